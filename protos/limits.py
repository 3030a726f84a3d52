"""Sizes both ends of the RPCs agree on (see docs/rpc.md, "Batching").

MAX_MESSAGE_BYTES is the region server's gRPC message limit, each way. The server sets it on
its gRPC server; the client cuts batches well under it (client/batch.py MAX_MULTI_BYTES) and
refuses up front a single row mutation that could never fit (client/protocol.py), instead
of letting gRPC answer RESOURCE_EXHAUSTED.

The master's gRPC server and the channels between daemons take the same limit
(DAEMON_MESSAGE_OPTIONS): a region server's load report and ServerLoad name every region it
holds, and region names carry their start keys, so hundreds of regions with long row keys
passed gRPC's 4 MB default and every report was refused.
"""

MAX_MESSAGE_BYTES = 256 << 20
# Of a message, what one row's mutation may take: the rest is room for the request around
# it (the region's name, the field tags and lengths, a nonce).
MAX_ROW_MUTATION_BYTES = MAX_MESSAGE_BYTES - (64 << 10)
# Regions one OpenRegions call opens at once on the region server: the master sends a server
# one call at a time and gives it a deadline of one open per round of this many.
OPEN_REGIONS_PARALLELISM = 8
# gRPC options of the master's server and of every channel one daemon opens to another.
DAEMON_MESSAGE_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                          ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
