"""Export a trained policy as a PolicyBundle: the folder ``ros_bridge`` deploys.

>>> from agentic_rl.export import export_bundle
>>> export_bundle("runs/train/DroneHover/20250101-000000", "DroneHover", "bundle/")

See :mod:`agentic_rl.export.bundle` for the folder's contents.
"""

from agentic_rl.export.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BelowThresholdError,
    ExportError,
    export_bundle,
    record_evaluation,
    urdf_chain,
)
from agentic_rl.export.onnx_export import (
    ONNX_ATOL,
    DeployActor,
    check_onnx_against_torch,
    export_onnx,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "ONNX_ATOL",
    "BelowThresholdError",
    "DeployActor",
    "ExportError",
    "check_onnx_against_torch",
    "export_bundle",
    "export_onnx",
    "record_evaluation",
    "urdf_chain",
]
