"""``bpfctl``: the client of the bpfd guide, on bpfman's core.

A thin front-end like :mod:`bpfman.cli`. Its commands (:mod:`.main`) turn the
guide's flags into a :class:`~.model.Load` and a :class:`~.model.Hook` and hand
them to a backend (:mod:`.backends`): the bpfman.v1 gRPC service when its socket
answers (:mod:`.remote`), so members of the socket's group need no sudo, else
bpfman's core in this process, as root (:mod:`.local`). Load and attach are one
step (:func:`.transaction.load_and_attach`); what bpfctl loads is an ordinary
bpfman program and link.
"""
