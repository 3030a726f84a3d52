"""Sizes both ends of the RPCs agree on (see docs/rpc.md, "Batching").

MAX_MESSAGE_BYTES is the region server's gRPC message limit, each way. The server sets it on
its gRPC server; the client cuts batches well under it (client/batch.py MAX_MULTI_BYTES) and
refuses up front a single row mutation that could never fit (client/protocol.py), instead
of letting gRPC answer RESOURCE_EXHAUSTED.
"""

MAX_MESSAGE_BYTES = 256 << 20
# Of a message, what one row's mutation may take: the rest is room for the request around
# it (the region's name, the field tags and lengths, a nonce).
MAX_ROW_MUTATION_BYTES = MAX_MESSAGE_BYTES - (64 << 10)
