"""Which layers :func:`repalign.extract` hooks: default layers, glob patterns, network order.

Default layers
--------------
``extract(model, stimuli)`` without ``layers`` takes the outputs of a network's
*blocks*, the units its depth is counted in, never their submodules:

* A **block list** is an ``nn.ModuleList`` (one entry or more) or an ``nn.Sequential``
  (two or more) whose entries all have submodules of their own: the encoder layers of
  BERT (``encoder.layer``), GPT-2's ``h``, ViT's ``layers``, EfficientNet's
  ``_blocks``, timm's ``blocks``, a ResNet's ``layer1`` ... ``layer4``. The outermost
  block lists are found from the root down (a block list is not searched further), and
  their entries are the default layers, in order.
* **Stages**: where two or more of those block lists are ``nn.Sequential`` siblings
  (children of one module) in a network without embeddings, they are a CNN's stages
  (a ResNet's ``layer1`` ... ``layer4``) and the stage outputs are the default layers,
  not the blocks inside them. A block list whose entries are themselves stages (timm's
  ``blocks`` of an EfficientNet, ``stages`` of a ConvNeXt) gives its entries, the stage
  outputs, by the first rule.
* A network with token or patch embeddings (an ``nn.Embedding``, a module named
  ``embeddings``, or a module or parameter named ``*pos_embed*`` /
  ``*position_embed*``) is a transformer: before each block list come its embeddings,
  the input of the first block. That is the module named ``embeddings`` where the
  model has one before the blocks (BERT, ViT: Hugging Face's ``hidden_states[0]``), else
  the pseudo-layer ``"<first block>:input"`` (GPT-2: ``"h.0:input"``), the first tensor
  given to the first block. So a transformer's defaults are its residual stream:
  the embeddings and the output of every layer (Hugging Face's ``hidden_states``, up to
  the final norm that some models apply to the last one).
* A network without block lists (``nn.Sequential`` of layers, VGG-like ``features``)
  gives its top-level modules, with ``nn.Sequential``, ``nn.ModuleList`` and
  ``nn.ModuleDict`` containers opened up (a network wrapping a single module gives
  that module's). A network that is itself such a container is a pipeline: its
  entries are its layers, whatever they hold (``nn.Sequential(block, block, head)``
  gives ``"0"``, ``"1"``, ``"2"``).

Patterns
--------
A layer name may be a glob pattern over the dotted module names: ``*`` matches within
one name component (``"_blocks.*"`` gives ``_blocks.0`` ... ``_blocks.15``, not their
submodules), ``**`` matches across dots (``"encoder.**"``: every module below
``encoder``), ``?`` one character of a component and ``[...]`` a character set. A name or
pattern followed by ``":input"`` takes the input of the module(s) instead of their
output (the first tensor passed to ``forward``).

Network order
-------------
Layers are listed in the order in which the modules are registered (``named_modules``,
which is how ``print(model)`` shows them), an input before its module. ``extract`` returns
them in the order in which their outputs are produced in the forward pass, which differs
only for modules registered in another order than they run, and for a container named
together with its own submodules (the container's output comes last).
"""

from __future__ import annotations

import difflib
import re

from torch import nn

__all__ = ["INPUT", "default_layers", "resolve_layers", "glob_regex", "top_level_layers"]

#: Suffix of a pseudo-layer that records the input of a module.
INPUT = ":input"

_GLOB_CHARS = "*?["


def glob_regex(pattern: str) -> re.Pattern:
    """A regular expression for a layer pattern (``*`` one component, ``**`` any depth)."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            j = pattern.find("]", j)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                elif body.startswith("^"):
                    body = "\\" + body
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _is_composite(module: nn.Module) -> bool:
    return next(module.children(), None) is not None


def _is_block_list(module: nn.Module) -> bool:
    if not isinstance(module, (nn.ModuleList, nn.Sequential)):
        return False
    children = list(module.children())
    least = 1 if isinstance(module, nn.ModuleList) else 2
    return len(children) >= least and all(_is_composite(child) for child in children)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _block_lists(root: nn.Module) -> list[str]:
    """Paths of the outermost block lists, in registration order ("" for the root)."""
    if _is_block_list(root):
        return [""]
    found: list[str] = []
    seen: set[int] = set()

    def visit(prefix, module):
        for name, child in module.named_children():
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = _join(prefix, name)
            if _is_block_list(child):
                found.append(path)
            else:
                visit(path, child)

    visit("", root)
    return found


def _has_embeddings(root: nn.Module) -> bool:
    def positional(name: str) -> bool:
        last = name.rsplit(".", 1)[-1].lower()
        return "pos_embed" in last or "position_embed" in last

    for name, module in root.named_modules():
        if isinstance(module, nn.Embedding) or positional(name) \
                or name.rsplit(".", 1)[-1] == "embeddings":
            return True
    return any(positional(name) for name, _ in root.named_parameters())


def _embeddings_of(root: nn.Module, path: str) -> str:
    """The layer whose output enters the block list at ``path`` (see the module docs)."""
    parts = path.split(".") if path else []
    modules = dict(root.named_modules())
    for k in range(len(parts) - 1, -1, -1):
        ancestor = ".".join(parts[:k])
        names = [name for name, _ in modules[ancestor].named_children()]
        if "embeddings" in names and names.index("embeddings") < names.index(parts[k]):
            return _join(ancestor, "embeddings")
    first = next(name for name, _ in modules[path].named_children())
    return _join(path, first) + INPUT


def top_level_layers(root: nn.Module) -> list[str]:
    """The top-level modules of ``root``, containers opened (the default without blocks)."""
    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    out: list[str] = []

    def visit(prefix, module):
        for name, child in module.named_children():
            path = _join(prefix, name)
            if type(child) in containers:
                visit(path, child)
            else:
                out.append(path)

    if type(root) in containers:  # a pipeline: its entries
        out = [name for name, _ in root.named_children()]
    else:
        visit("", root)
    modules = dict(root.named_modules())
    while len(out) == 1 and _is_composite(modules[out[0]]):  # a wrapper of one network
        inner = top_level_layers(modules[out[0]])
        if not inner:
            break
        out = [_join(out[0], name) for name in inner]
    return out


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def default_layers(root: nn.Module) -> list[str]:
    """The default layers of ``root``: block outputs (with a transformer's embeddings),
    stage outputs of a CNN, else the top-level modules; in registration order. See the
    module docstring."""
    registered = {name for name, _ in root.named_modules() if name}
    lists = _block_lists(root)
    if not lists:
        return top_level_layers(root)
    embeddings = _has_embeddings(root)
    modules = dict(root.named_modules())
    siblings: dict[str, int] = {}
    for path in lists:
        if path and isinstance(modules[path], nn.Sequential):
            siblings[_parent(path)] = siblings.get(_parent(path), 0) + 1
    out: list[str] = []
    for path in lists:
        if embeddings:
            out.append(_embeddings_of(root, path))
        if not embeddings and isinstance(modules[path], nn.Sequential) \
                and siblings.get(_parent(path), 0) >= 2:
            out.append(path)  # a stage
        else:
            out += [_join(path, name) for name, _ in modules[path].named_children()]
    out = [name for name in out if name.removesuffix(INPUT) in registered]
    return list(dict.fromkeys(out))


def order(names: list[str], all_names: list[str]) -> list[str]:
    """``names`` sorted in registration order, each ``"x:input"`` just before ``"x"``."""
    position = {name: 2 * i + 1 for i, name in enumerate(all_names)}

    def key(name):
        if name.endswith(INPUT):
            return position[name[:-len(INPUT)]] - 1
        return position.get(name, -1)

    return sorted(dict.fromkeys(names), key=key)


def resolve_layers(layers, available: list[str], what: str) -> list[str]:
    """Expand ``layers`` (names, patterns, ``":input"`` forms) over ``available`` module
    names into a duplicate-free list in registration order.

    Raises
    ------
    TypeError
        If ``layers`` is not a string or a list of strings.
    ValueError
        If a name or pattern matches no layer (with close names), or ``layers`` is empty.
    """
    if isinstance(layers, str):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(
            "layers must be None, a layer name or pattern, or a list of them; got "
            f"{type(layers).__name__}"
        ) from None
    if not layers:
        raise ValueError("layers is empty; give at least one layer name, or None for the "
                         "default layers")
    modules = set(available)
    chosen: list[str] = []
    for pattern in layers:
        if not isinstance(pattern, str):
            raise TypeError(
                "layers must be None or a list of layer names or glob patterns; got an "
                f"item of type {type(pattern).__name__}"
            )
        base, suffix = pattern, ""
        if pattern.endswith(INPUT) and pattern != INPUT:
            base, suffix = pattern[:-len(INPUT)], INPUT
        if base in modules:
            matches = [base]
        elif any(c in base for c in _GLOB_CHARS):
            regex = glob_regex(base)
            matches = [name for name in available if regex.match(name)]
        else:
            matches = []
        if suffix and base == "output" and available == ["output"]:
            matches = []
        if not matches:
            close = difflib.get_close_matches(base, available, n=5, cutoff=0.5)
            hint = f"close names: {close}" if close else f"valid names include {available[:8]}"
            extra = ""
            if any(c in base for c in _GLOB_CHARS) and "**" not in base and "*" in base:
                extra = " ('*' matches within one name component; '**' also across dots)"
            raise ValueError(
                f"layers: {pattern!r} matches no layer of {what}{extra}; {hint} "
                f"(repalign.layers(model, all_modules=True) lists all {len(available)})"
            )
        chosen += [name + suffix for name in matches]
    return order(chosen, available)
