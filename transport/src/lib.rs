//! cairn-transport: TCP + Noise XX + yamux, with per-stream keys rotated
//! through a control stream. Knows nothing of the node that uses it.
