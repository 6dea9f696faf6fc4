"""Model files and checkpoints: safetensors files that never run code when read.

``save``/``load`` keep a model (weights under PyTorch's state-dict names, and the
architecture so that ``load`` rebuilds it without user code); ``save_checkpoint``/
``load_checkpoint`` keep a training run (model, optimizer, scheduler, epoch, random
generators, history) so that it resumes bit for bit. Every write is atomic.

>>> import os, tempfile
>>> from chainrule import nn
>>> from chainrule.io import load, save
>>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
>>> save(nn.Sequential(nn.Linear(4, 8, generator=0), nn.ReLU(), nn.Linear(8, 3, generator=1)), path)
>>> load(path)
Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): ReLU()
  (2): Linear(in_features=8, out_features=3, bias=True)
)
"""

from chainrule.io._container import FORMAT_VERSION, METADATA_KEY
from chainrule.io.architecture import CONTAINERS, LAYERS, LayerEntry, build_model, describe_model
from chainrule.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from chainrule.io.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from chainrule.io.model_file import load, load_state_dict_file, load_weights, read_metadata, save

__all__ = [
    "load_state_dict_file",
    "CONTAINERS",
    "FORMAT_VERSION",
    "LAYERS",
    "METADATA_KEY",
    "Checkpoint",
    "LayerEntry",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "build_model",
    "describe_model",
    "load",
    "load_checkpoint",
    "load_weights",
    "read_metadata",
    "save",
    "save_checkpoint",
]
