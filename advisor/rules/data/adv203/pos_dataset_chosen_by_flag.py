# The dataset is one of a few, chosen by a flag: torchvision's own, or the project's stand-in imported
# from another module; each is given a `transform=`. `num_workers=0` is the default, said explicitly.
import torch
import torchvision.datasets as dset
import torchvision.transforms as T
from torch.utils.data import DataLoader

from project.data import FashionDigits

to_tensor = T.Compose([T.Resize(32), T.ToTensor(), T.Normalize((0.5,), (0.5,))])
if args.dataset == "digits":
    train_set = FashionDigits(root=args.root, train=True, transform=to_tensor)
elif args.dataset == "stl10":
    train_set = dset.STL10(root=args.root, split="train", transform=to_tensor)
else:
    train_set = dset.CIFAR10(root=args.root, train=True, transform=to_tensor)
loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=0)  # expect: ADV203
for images, _ in loader:
    images = images.cuda()
    loss = model(images).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
