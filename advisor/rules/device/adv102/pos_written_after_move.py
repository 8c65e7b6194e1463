# The buffers are created on the host and moved, and only then written item by item (on the device): they
# hold no host data, so they can be created on the device directly.
import torch


def decode_step(decoder, hidden, encoder_outputs, max_length, use_cuda):
    batch_size, seq_len = encoder_outputs.size(1), encoder_outputs.size(0)
    energies = torch.zeros(batch_size, seq_len)
    outputs = torch.zeros(max_length, batch_size, decoder.output_size)
    if use_cuda:
        energies = energies.cuda()  # expect: ADV102
        outputs = outputs.cuda()  # expect: ADV102
    for i in range(seq_len):
        energies[:, i] = (hidden * encoder_outputs[i]).sum(1)
    for t in range(max_length):
        outputs[t] = decoder(hidden, energies)
    return outputs


for batch in loader:
    out = decode_step(decoder, hidden, encoder(batch.cuda()), 10, True)
    loss = out.mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
