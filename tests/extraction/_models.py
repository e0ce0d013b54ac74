"""Tiny models built in the tests: a CNN with batch norm and a transformer with tuple outputs."""

from __future__ import annotations

import torch
from torch import nn


class TinyCNN(nn.Module):
    """Conv -> BN -> ReLU -> pool -> conv -> ReLU, global average pool, linear head."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 5)
        with torch.no_grad():  # non-trivial running statistics, so eval != train mode
            self.features[1].running_mean.uniform_(-0.5, 0.5)
            self.features[1].running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        return self.head(self.avgpool(self.features(x)).flatten(1))


class Block(nn.Module):
    """Self-attention block returning a tuple (hidden states, attention weights)."""

    def __init__(self, d: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x, padding):
        a, weights = self.attn(x, x, x, key_padding_mask=padding, need_weights=True)
        x = self.norm1(x + a)
        return self.norm2(x + self.ff(x)), weights


class TinyTransformer(nn.Module):
    """Token ids + attention mask -> a dict with last_hidden_state and logits."""

    def __init__(self, vocab: int = 30, d: int = 8, n_layers: int = 2, max_len: int = 16,
                 seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(vocab, d)
        self.position = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab)

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.embed(input_ids) + self.position(positions)
        for block in self.blocks:
            x, _ = block(x, attention_mask == 0)
        x = self.norm(x)
        return {"logits": self.lm_head(x), "last_hidden_state": x}


def token_batch(n: int = 7, t: int = 6, vocab: int = 30, seed: int = 0):
    """Token ids with right padding of varying length (every row keeps >= 1 token)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, t), generator=g)
    lengths = torch.randint(1, t + 1, (n,), generator=g)
    lengths[0] = t
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def images(n: int = 10, size: int = 8, seed: int = 0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def raw_outputs(model, inputs, names):
    """Each named module's raw output over one eval-mode forward pass (the reference)."""
    modules = dict(model.named_modules())
    out = {}
    handles = [modules[n].register_forward_hook(
        lambda m, a, o, n=n: out.__setitem__(n, o)) for n in names]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(**inputs) if isinstance(inputs, dict) else model(inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return out
