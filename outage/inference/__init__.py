"""Outage inference: the most probable set of open devices given all the evidence.

Pure — no events, no incidents, no wall clock. `likelihood` turns the parameters of
`outage.rules` into per-node scores; `tree` keeps the exact maximum a posteriori set of open
assets on the radial network up to date as evidence arrives; `evidence` keeps what each
premise has reported in its current evidence epoch; `explain` puts a prediction into numbers
an officer can read.
"""
