"""Simulated CGS Blue Cherry ERP (contracts/bluecherry.md), served by ``simulators.server``.

Modules: views (the API), control (``_sim/``), services (what the ERP does when called),
records (what the control API does to the data), generate (the seeded data generator),
faults (injected failures, batch cycle), runtime (the ATS batch job), serializers, httputil.
"""
