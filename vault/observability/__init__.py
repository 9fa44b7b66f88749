"""Observability: Prometheus metrics, one log line per request, instrumented ports.

`metrics` defines every metric on a registry it is given (no global registry), `exposition`
serves a registry on its own HTTP port (and, under `serve --processes N`, the processes'
metrics from prometheus-client's multiprocess directory), `instrumented` wraps the
blob-store and key-provider ports with timers that report to a plain callback (no
prometheus import), `interceptor` logs and counts every gRPC call, `requests` carries a
call's request id and actor kind between the interceptor and the edge
(vault/server/calls.py), and `logs` formats log records as text or JSON lines.
No label and no log field carries an identifier of a patient, professional, document or
dossier: labels are RPC methods, status codes, operations and outcomes only.
"""
