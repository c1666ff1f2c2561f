"""What bpfman's gRPC faces serve through: the bpfman.v1 service and the CSI node plugin.

A public Unix socket and its callers' credentials (:mod:`.listen`), the relay
of its connections to gRPC's private socket (:mod:`.relay`), and the status a
failure becomes (:mod:`.status`).
"""
