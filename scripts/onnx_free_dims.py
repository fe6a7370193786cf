"""Make an ONNX graph with a fixed input size take any size, and let ONNX Runtime fold it.

Used by fetch_models.sh for CenterFace: its export fixed the input at 10x3x32x32
and lists every weight as a graph input as well (PyTorch 1.2's exporter), which
keeps ONNX Runtime from folding constants. This rewrites the protobuf directly
(no onnx package is needed at set-up) and changes nothing else:
- the batch, height and width of every graph input and output become free
  (`in_n`, `in_h`, `in_w`, `out_n`, ...);
- graph inputs that are initializers are dropped (they stay initializers);
- initializers no node reads (BatchNorm's `num_batches_tracked`) are dropped.
The output is byte-for-byte the same for the same input (fetch_models.sh pins it).

Usage: onnx_free_dims.py IN.onnx OUT.onnx
"""

import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def fields(b):
    """(field number, wire type, raw field bytes, payload or None) of a message, in order."""
    i, out = 0, []
    while i < len(b):
        start = i
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        payload = None
        if wt == 0:
            _, i = varint(b, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            n, i = varint(b, i)
            payload = b[i : i + n]
            i += n
        else:
            sys.exit(f"onnx_free_dims: unexpected protobuf wire type {wt}")
        out.append((num, wt, b[start:i], payload))
    return out


def ld(num, payload):
    return enc_varint(num << 3 | 2) + enc_varint(len(payload)) + payload


def name_of(msg, field):
    for num, wt, _raw, p in fields(msg):
        if num == field and wt == 2:
            return p.decode()
    return None


DIM_NAMES = {0: "n", 2: "h", 3: "w"}


def free_shape(shape, prefix):
    """TensorShapeProto with dims 0, 2, 3 made symbolic."""
    out = b""
    dims = [p for num, wt, _raw, p in fields(shape) if num == 1 and wt == 2]
    for k, d in enumerate(dims):
        if k in DIM_NAMES:
            d = ld(2, (prefix + DIM_NAMES[k]).encode())  # Dimension.dim_param
        out += ld(1, d)
    return out


def free_value_info(value_info, prefix):
    """ValueInfoProto (name 1, type 2 -> TypeProto.tensor_type 1 -> shape 2)."""
    out = b""
    for num, wt, raw, p in fields(value_info):
        if num != 2 or wt != 2:
            out += raw
            continue
        type_proto = b""
        for n2, w2, r2, p2 in fields(p):
            if n2 != 1 or w2 != 2:
                type_proto += r2
                continue
            tensor = b""
            for n3, w3, r3, p3 in fields(p2):
                tensor += ld(2, free_shape(p3, prefix)) if (n3, w3) == (2, 2) else r3
            type_proto += ld(1, tensor)
        out += ld(2, type_proto)
    return out


def rewrite(model):
    out = b""
    for num, wt, raw, p in fields(model):
        if num != 7 or wt != 2:  # ModelProto.graph
            out += raw
            continue
        graph = fields(p)
        # GraphProto: node 1 (NodeProto.input 1), initializer 5 (TensorProto.name 8),
        # input 11, output 12.
        inits = {name_of(q, 8) for n, w, _r, q in graph if (n, w) == (5, 2)}
        used = {
            q1.decode()
            for n, w, _r, q in graph
            if (n, w) == (1, 2)
            for n1, w1, _r1, q1 in fields(q)
            if (n1, w1) == (1, 2)
        }
        g = b""
        for n, w, r, q in graph:
            if (n, w) == (5, 2) and name_of(q, 8) not in used:
                continue
            if (n, w) == (11, 2):
                if name_of(q, 1) not in inits:
                    g += ld(11, free_value_info(q, "in_"))
            elif (n, w) == (12, 2):
                g += ld(12, free_value_info(q, "out_"))
            else:
                g += r
        out += ld(7, g)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        model = f.read()
    with open(sys.argv[2], "wb") as f:
        f.write(rewrite(model))


if __name__ == "__main__":
    main()
