"""Independent storm scenarios: a generator of storms with ground truth, and a scorer.

This package plays the world the engine lives in — faults, customers, meters, crews — and
judges the engine's answers. It must know nothing of the engine's rules or parameters:
ground truth comes from the topology (`grid`) and its own random draws only. The import
contract in pyproject.toml keeps every module here except the two harnesses —
`scenarios.replay` (feeds signals through the engine's public calls) and `scenarios.player`
(plays a storm through a running service, in event time) — from importing `outage` at all.

`scenarios.city_storm` is the demo city's storm simulator (`outage simulate`, `outage demo`,
tests and benchmarks use it); `scenarios.generate` the blind generator the accuracy benchmarks
score the engine with.
"""
