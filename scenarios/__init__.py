"""Independent storm scenarios: a generator of storms with ground truth, and a scorer.

This package plays the world the engine lives in — faults, customers, meters, crews — and
judges the engine's answers. It must know nothing of the engine's rules or parameters:
ground truth comes from the topology (`grid`) and its own random draws only. The import
contract in pyproject.toml keeps every module here except `scenarios.replay` (the harness that
feeds signals through the engine's public calls) from importing `outage` at all.
"""
