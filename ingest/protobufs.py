"""Protobuf message types built from a descriptor at import, and snappy block bodies: what
Prometheus remote write and Loki's push API send. The protobuf runtime comes with
``opentelemetry-proto``; building the few message types read here from their field numbers
needs no generated code to vendor."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from ingest.errors import ParseError

_TYPES = {"string": 9, "double": 1, "int64": 3, "int32": 5, "uint64": 4}  # FieldDescriptorProto

#: (field name, number, "string" / "double" / ... or a message type's name, repeated)
Field = tuple[str, int, str, bool]


def message_classes(package: str, messages: dict[str, list[Field]]) -> dict[str, Any]:
    """Message classes of ``package`` from ``{message: [fields]}``; fields a message does not
    list are skipped on decoding, as unknown fields are."""
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name=f"aiops_{package.replace('.', '_')}.proto",
                                               package=package, syntax="proto3")
    for name, fields in messages.items():
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, repeated in fields:
            spec = msg.field.add(name=field_name, number=number,
                                 label=f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL)
            if kind in _TYPES:
                spec.type = _TYPES[kind]
            else:
                spec.type = f.TYPE_MESSAGE
                spec.type_name = f".{package}.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in messages}


def decode(cls: Any, data: bytes, what: str, source: str) -> Any:
    try:
        return cls.FromString(data)
    except Exception as err:  # protobuf's DecodeError, or a message nested too deep
        raise ParseError(f"a protobuf {what}", source=source, field="body",
                         got=str(err)[:200]) from None


def snappy_block(body: bytes, max_bytes: int, source: str) -> bytes:
    """The snappy *block* format (not the framed one), bounded: the length the block
    announces (a varint first) is checked before decompressing, so a 50-byte body cannot
    claim and allocate gigabytes."""
    import cramjam

    expected = f"a snappy-compressed (block format) {source} body"
    size, shift = 0, 0
    for byte in body[:10]:
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    else:
        raise ParseError(expected, source=source, field="body", got="no length prefix")
    if size > max_bytes:
        raise ParseError(f"a {source} body of at most {max_bytes} bytes uncompressed",
                         source=source, field="body", got=f"{size} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise ParseError(expected, source=source, field="body", got=str(err)[:200]) from None
