//! Base62 encoding of fixed-size byte strings, as used in credential secrets.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `bytes` as a big-endian base62 number left-padded with '0' to `width` chars.
pub fn encode(bytes: &[u8], width: usize) -> String {
    let mut digits = Vec::with_capacity(width);
    let mut number = bytes.to_vec();
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let accumulator = (remainder << 8) | u32::from(*byte);
            *byte = (accumulator / 62) as u8;
            remainder = accumulator % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("alphabet is ASCII")
}

/// True when every character of `text` is a base62 digit.
pub fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Width needed to encode `byte_len` bytes.
pub const fn width_for(byte_len: usize) -> usize {
    // log(256)/log(62) ≈ 1.3436; round up.
    (byte_len * 13436).div_ceil(10000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_fixed_width() {
        assert_eq!(encode(&[0, 0], 3), "000");
        assert_eq!(encode(&[61], 2), "0z");
        assert_eq!(encode(&[1, 0], 2), "48");
        assert_eq!(encode(&[0xff; 16], width_for(16)).len(), width_for(16));
        assert_eq!(encode(&[0xff; 4], width_for(4)).len(), 6);
    }
}
