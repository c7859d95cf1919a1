//! Length-prefixed byte strings, `[length u32 big-endian][bytes]`: the
//! building block of the store's own record formats (`batch.rs`,
//! `timer_log.rs`).

pub(crate) fn push_chunk(bytes: &mut Vec<u8>, chunk: &[u8]) {
    let length = u32::try_from(chunk.len()).expect("a store record under 4 GiB");
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(chunk);
}

/// The chunk at the start of `bytes`, which moves past it; `None` if cut short.
pub(crate) fn pop_chunk<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (length, rest) = bytes.split_at_checked(4)?;
    let length = usize::try_from(u32::from_be_bytes(length.try_into().ok()?)).ok()?;
    let (chunk, rest) = rest.split_at_checked(length)?;
    *bytes = rest;
    Some(chunk)
}
