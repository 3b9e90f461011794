"""Lightning's per-hook bookkeeping on the LightningModule without ``nn.Module.__setattr__``'s cost.

Around every hook it calls, Lightning 2.6.6 sets ``LightningModule._current_fx_name`` (the hook that
``self.log`` files values under) and then sets it back: 44 assignments per training step. Each goes
through ``nn.Module.__setattr__``, which first checks whether the value is a parameter, buffer or submodule:
about 2 us per assignment on the 2-core machine the project is tested on, against 0.5 us for a plain
attribute, so some 0.07 ms per step, the largest single item of Lightning's own per-step cost on a tiny model.
The name is a string or None, never a tensor or a module, so ``nn.Module`` ends with a plain assignment
anyway; torch sets its own plain attributes the same way for the same reason (pytorch/pytorch#77098). No
Lightning issue found.
"""

from typing import Any

from lightning.pytorch import LightningModule


class FastHookName(LightningModule):
    """A LightningModule whose ``_current_fx_name`` is a plain attribute, set without ``nn.Module``'s checks;
    every other attribute goes through ``nn.Module.__setattr__`` as usual."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
