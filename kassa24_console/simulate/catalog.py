"""Every scenario, in the order they run: the spec's requirements, then the faults
integrators ship.

The scenario modules register into :mod:`.registry` when imported; this module imports them
all and fixes the order, so the registry never reaches up to them and neither module
depends on the other.
"""

from __future__ import annotations

from . import conformance, scenarios
from .registry import Scenario, registered_by

#: the scenario modules, in the order their scenarios run
MODULES = (scenarios, conformance)

SCENARIOS: dict[str, Scenario] = {item.name: item for module in MODULES for item in registered_by(module.__name__)}
