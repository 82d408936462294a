//! The f32x4 building blocks every family's vector lowering uses: constants in every lane
//! and lane-wise selection.

use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Value};

use crate::codegen::emitter::Emitter;

impl Emitter<'_, '_> {
    /// `c` in every lane (the row's materialized constant when there is one).
    pub(in crate::codegen) fn splat(&mut self, c: f32) -> Value {
        if let Some(row) = &self.row {
            if let Some(&(_, v)) = row.constants.iter().find(|(bits, _)| *bits == c.to_bits()) {
                return v;
            }
        }
        let k = self.b.ins().f32const(c);
        self.b.ins().splat(types::F32X4, k)
    }

    /// Lane-wise `mask ? x : y` for a vector comparison result (all-ones or all-zeros lanes).
    pub(in crate::codegen) fn vselect(&mut self, mask: Value, x: Value, y: Value) -> Value {
        let flags = MemFlagsData::new().with_endianness(Endianness::Little);
        let mask = self.b.ins().bitcast(types::F32X4, flags, mask);
        self.b.ins().bitselect(mask, x, y)
    }
}
