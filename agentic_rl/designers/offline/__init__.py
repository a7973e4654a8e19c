"""The offline designer: a real reward designer with no model and no network.

It starts from a **naive reward** (the size of the task's declared goal error, nothing else)
and each iteration refines the best candidate so far: it reads that candidate's
:class:`~agentic_rl.diagnostics.packet.DiagnosisPacket` and recorded evaluation episodes, and
the refinement memory of every candidate tried (:mod:`agentic_rl.designers.memory`: the last
iteration's children included, whatever they scored), then changes terms and weights by
explicit rules plus seeded random perturbations across the K candidates. It writes reward
program text in the same format a model writes, and that text goes through the same pipeline
(:func:`rewards.check_source`) as any model's.

The package, one job per module:

* :mod:`~.view`: what the designer reads from a :class:`~sims.spec.TaskSpec`: only its
  declarations (goal errors with tolerance constants and scales, body fields, the fed-back
  action, success sub-criteria, hazards, progress fields, landmarks), never a field name;
* :mod:`~.ingredients`: the reward terms those declarations support (the catalogue);
* :mod:`~.genome`: a candidate as data (ingredient -> weight, gated terms) and its program;
* :mod:`~.evidence`: what the rules read: findings (each past the diagnostics' own gate),
  failures, which success sub-criteria the failed episodes broke, near/far measured on the
  failed episodes only;
* :mod:`~.rules`: the documented refinement rules;
* :mod:`~.survival`: the per-proposal guarantee that staying alive never costs more than
  ending the episode (a measured ``alive`` offset);
* :mod:`~.designer`: :class:`OfflineDesigner`, which puts them together.

**Candidates.** Iteration 0: candidate 0 is the naive reward; candidate k > 0 adds one
ingredient drawn (seeded) from the catalogue. Later iterations: candidate 0 is the parent with
the rules applied and nothing else; candidates k > 0 multiply every weight by
``exp(N(0, sigma))`` and odd k also add one ingredient. Terms the memory blames (a sibling
added them to the same parent and did worse, was rejected or failed) are never added again; a
term set that only ever did worse is not proposed again (the parent's terms are kept, only
weights change); a genome already tried is perturbed until it is new. The random stream is
seeded by ``(seed, iteration, k)``, so proposals are deterministic for a seed and history.
Every proposal but the naive one then gets its survival offset.
"""

from agentic_rl.designers.offline.designer import PERTURB_SIGMA, OfflineDesigner
from agentic_rl.designers.offline.genome import Genome, render
from agentic_rl.designers.offline.ingredients import Ingredient, catalogue
from agentic_rl.designers.offline.rules import RuleLog, Rules
from agentic_rl.designers.offline.view import TaskView

__all__ = [
    "PERTURB_SIGMA",
    "Genome",
    "Ingredient",
    "OfflineDesigner",
    "RuleLog",
    "Rules",
    "TaskView",
    "catalogue",
    "render",
]
