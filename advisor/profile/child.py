"""Child side: `python -m advisor.profile.child REQUEST.json` runs the user's script the way
`python script.py args` would (its argv, its folder first on sys.path, the caller's working folder)
under the profiling session, then writes one JSON result to the path the request names.

A crash of the script is reported with the script's own traceback (this module's and runpy's frames
left out); a hang or a hard crash is the parent's to report.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from typing import Any

RESULT_SCHEMA = 1


def user_traceback(exc: BaseException) -> str:
    """The traceback the user would have seen running the script, minus advisor's and runpy's frames."""
    here = os.path.dirname(os.path.abspath(__file__))
    tb = traceback.TracebackException.from_exception(exc)
    stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not f.filename.startswith(here) and os.path.basename(f.filename) != "runpy.py" and not f.filename.startswith("<frozen runpy")]
    )
    tb.stack = stack
    return "".join(tb.format())


def _device_name(cuda: bool) -> str:
    if cuda:
        import torch

        return torch.cuda.get_device_name(0)
    from advisor.environment import cpu_model

    return cpu_model()


def run(req: dict[str, Any]) -> dict[str, Any]:
    import torch

    from advisor.profile.session import ProfileDone, Session

    cuda = torch.cuda.is_available()
    session = Session(
        steps=int(req["steps"]),
        skip=int(req["skip"]),
        startup_s=float(req["startup_s"]),
        window_s=float(req["window_s"]),
        linger_s=float(req["linger_s"]),
        cuda=cuda,
    )
    script = req["script"]
    sys.argv = [script, *req["args"]]
    sys.path[0] = os.path.dirname(script)
    error: dict[str, Any] | None = None
    cwd = os.getcwd()
    session.install()
    try:
        runpy.run_path(script, run_name="__main__")
    except ProfileDone:
        pass
    except SystemExit as exc:
        if exc.code not in (None, 0):
            error = {"type": "SystemExit", "message": f"the script exited with status {exc.code}", "traceback": ""}
    except BaseException as exc:  # the user's own failure, reported with its own traceback
        error = {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": user_traceback(exc)[-20000:]}
    os.chdir(cwd)  # the script may have left a folder it then deleted
    result = session.finish()
    result.update(
        schema=RESULT_SCHEMA,
        error=error,
        torch=torch.__version__,
        device="cuda" if cuda else "cpu",
        device_name=_device_name(cuda),
    )
    return result


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        req = json.load(fh)
    try:
        result = run(req)
    except BaseException as exc:  # advisor's own failure in the child: say so, not the script's
        result = {"schema": RESULT_SCHEMA, "internal_error": f"{type(exc).__name__}: {exc}"}
    tmp = req["result"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=str)
    os.replace(tmp, req["result"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no atexit, no DataLoader worker joins: the parent ends the process group


if __name__ == "__main__":
    main()
