"""Server reflection, as both `grpc.reflection.v1alpha.ServerReflection` and
`grpc.reflection.v1.ServerReflection` (newer tools such as grpcurl and Postman try v1
first).

grpcio-reflection ships only v1alpha. The two versions' messages are wire-identical
(v1 is v1alpha renamed), so the v1 service is the v1alpha implementation registered
under the v1 name; v1's own descriptor, so that a tool can describe it, is v1alpha's
file renamed into the `grpc.reflection.v1` package and added to the default pool.

What it does not: decide which services exist (vault/server/app.py names them).
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA = reflection.SERVICE_NAME  # grpc.reflection.v1alpha.ServerReflection
_V1_PACKAGE = "grpc.reflection.v1"
_V1_FILE = "grpc/reflection/v1/reflection.proto"
V1 = f"{_V1_PACKAGE}.ServerReflection"


def _v1_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """v1alpha's file descriptor, moved into the v1 package."""
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old, new = f".{file.package}.", f".{_V1_PACKAGE}."
    file.name, file.package = _V1_FILE, _V1_PACKAGE
    file.ClearField("options")
    for message in file.message_type:
        for field in (f for f in message.field if f.HasField("type_name")):
            field.type_name = field.type_name.replace(old, new, 1)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new, 1)
            method.output_type = method.output_type.replace(old, new, 1)
    return file


def _add_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
    except KeyError:
        pool.Add(_v1_descriptor())


def enable_reflection(services: Sequence[str], server: grpc.aio.Server) -> None:
    """Serves reflection v1alpha and v1 on `server`, listing `services` and themselves."""
    _add_v1_descriptor()
    servicer = reflection.aio.ReflectionServicer((*services, V1ALPHA, V1))
    handlers = {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
    }
    for name in (V1ALPHA, V1):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
