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


class BasicBlock(nn.Module):
    """A ResNet basic block: two 3 x 3 convolutions with a (projected) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else \
            nn.Conv2d(c_in, c_out, 1, stride)

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.conv1(x))) + self.shortcut(x))


class TinyResNet(nn.Module):
    """A stem, three stages (``layer1`` ... ``layer3``) of two blocks each, and a head."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 4))
        self.layer2 = nn.Sequential(BasicBlock(4, 6, 2), BasicBlock(6, 6))
        self.layer3 = nn.Sequential(BasicBlock(6, 8, 2), BasicBlock(8, 8))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.conv1(x)))))
        return self.fc(self.avgpool(x).flatten(1))


# --- tiny Hugging Face models saved to local folders (nothing is downloaded) ------------

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "red", "blue", "big", "small", "house"]
TEXTS = ["the cat sat on the mat", "a dog", "the big red house", "small blue cat",
         "a cat sat", "dog"]


def save_tiny_bert(folder, seed: int = 0):
    """A 2-layer BERT (16-d) and its WordPiece tokenizer, saved to ``folder``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS))
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16,
                                 num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=32))
    model.save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder)
    return folder


def _bytes_to_unicode():
    """GPT-2's reversible map of the 256 bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def save_tiny_gpt2(folder, seed: int = 0):
    """A 2-layer GPT-2 (16-d) with a byte-level tokenizer that has no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(_bytes_to_unicode().values())}
    eos = len(vocab)
    vocab["<|endoftext|>"] = eos
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    torch.manual_seed(seed)
    model = GPT2Model(GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=2, n_head=2,
                                 n_positions=64, bos_token_id=eos, eos_token_id=eos))
    model.save_pretrained(folder)
    PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>",
                            bos_token="<|endoftext|>").save_pretrained(folder)
    return folder


def save_tiny_vit(folder, seed: int = 0):
    """A 2-layer ViT (32 x 32 images, 8 x 8 patches) and its image processor."""
    import transformers
    from transformers import ViTConfig, ViTModel

    # without torchvision, transformers has the PIL-backed processor (same config file)
    processor = getattr(transformers, "ViTImageProcessorPil", None) \
        or transformers.ViTImageProcessor
    torch.manual_seed(seed)
    model = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=16,
                               num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=32))
    model.save_pretrained(folder)
    processor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def save_tiny_sentence_transformer(folder, bert_folder):
    """The tiny BERT with mean pooling and normalisation, saved as sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6 moved its modules
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models

    word = models.Transformer(str(bert_folder))
    pooling = models.Pooling(16, pooling_mode="mean")  # the tiny BERT's width
    SentenceTransformer(modules=[word, pooling, models.Normalize()],
                        device="cpu").save(str(folder))
    return folder
