"""Export a trained policy as a PolicyBundle: the folder ``ros_bridge`` deploys.

>>> from agentic_rl.export import export_bundle
>>> export_bundle("runs/train/DroneHover/20250101-000000", "DroneHover", "bundle/")

See :mod:`agentic_rl.export.bundle` for the folder's contents and
:mod:`agentic_rl.export.scenes` for the scene-classifier bundle. Export is one of the three
doors from ``agentic_rl`` to ``ros_bridge`` (with the CLI and robustness): the bundle reader
(:func:`load_bundle`, :class:`BundleError`) and the bundle's :class:`EvaluationMeta` (what the
loop records after its test-seed verdict) are re-exported here for the training side.

Names are imported on first use, so importing ``agentic_rl.export.scenes`` (the scene
selector's path) does not load torch.
"""

from __future__ import annotations

from agentic_rl.lazy import lazy_names

#: name -> module that defines it.
_NAMES = {
    "BUNDLE_FORMAT": "agentic_rl.export.bundle",
    "BUNDLE_VERSION": "agentic_rl.export.bundle",
    "BelowThresholdError": "agentic_rl.export.bundle",
    "ExportError": "agentic_rl.export.bundle",
    "export_bundle": "agentic_rl.export.bundle",
    "record_evaluation": "agentic_rl.export.bundle",
    "urdf_chain": "agentic_rl.export.bundle",
    "ONNX_ATOL": "agentic_rl.export.onnx_export",
    "DeployActor": "agentic_rl.export.onnx_export",
    "check_onnx_against_torch": "agentic_rl.export.onnx_export",
    "export_onnx": "agentic_rl.export.onnx_export",
    "BundleError": "ros_bridge.bundle",
    "load_bundle": "ros_bridge.bundle",
    "EvaluationMeta": "ros_bridge.meta",
}

__all__ = sorted(_NAMES)


__getattr__, __dir__ = lazy_names(__name__, _NAMES)
