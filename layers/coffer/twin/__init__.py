"""Embedded twin: deploy Coffer's SAM ``template.yaml`` into an in-process moto and run it for real.

(Full notes in the module docstring below are the twin's README.)
"""

from .stack import TwinDeployError
from .twin import ExecutionResult, Twin, TwinInvokeError

__all__ = ["ExecutionResult", "Twin", "TwinDeployError", "TwinInvokeError"]
