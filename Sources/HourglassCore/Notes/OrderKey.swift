import Foundation

/// Fractional-index keys that order sibling bullets: plain strings over the 62 digits
/// `0-9A-Za-z` in ASCII order, never ending in "0", compared code unit by code unit.
/// `OrderKey.between` is the same algorithm as `between` in `Public/order.js`.
public enum OrderKey {
    static let digits = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    public static let maxLength = 64

    /// Whether `key` is a valid order key: 1 to 64 digits, not ending in "0".
    public static func isValid(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...maxLength).contains(bytes.count), bytes.last != digits[0] else { return false }
        return bytes.allSatisfy { digitValue($0) != nil }
    }

    /// A key strictly between `a` and `b` (nil: the start or the end), the same as `between` in
    /// `Public/order.js` (see the algorithm there). Throws when the keys are invalid or out of
    /// order, or when no key of at most 64 digits fits (the siblings then need fresh keys).
    public static func between(_ a: String?, _ b: String?) throws -> String {
        if let a, !isValid(a) { throw OperationError("invalid order key: \(a.debugDescription)") }
        if let b, !isValid(b) { throw OperationError("invalid order key: \(b.debugDescription)") }
        let x = a.map { Array($0.utf8) }, y = b.map { Array($0.utf8) }
        if let x, let y, !x.lexicographicallyPrecedes(y) { throw OperationError("order keys out of order") }
        var key: [UInt8]
        switch (x, y) {
        case (nil, nil): key = Array("V".utf8)
        case let (nil, y?): key = before(y[...])
        case let (x?, nil): key = after(x[...])
        case let (x?, y?):
            var out: [UInt8] = []
            var i = 0
            while true {
                if i >= x.count { key = out + before(y[i...]); break }
                let (da, db) = (digitValue(x[i])!, digitValue(y[i])!)
                if da == db { out.append(x[i]); i += 1; continue }
                key = db - da >= 2 ? out + [digits[da + 1]] : out + [x[i]] + after(x[(i + 1)...])
                break
            }
        }
        guard key.count <= maxLength else { throw OperationError("no room between these order keys; the siblings need fresh keys") }
        return String(decoding: key, as: UTF8.self)
    }

    private static func after(_ r: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for byte in r {
            let d = digitValue(byte)!
            if d < 61 { return out + [digits[d + 1]] }
            out.append(digits[61])
        }
        return out + Array("V".utf8)
    }

    private static func before(_ r: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for byte in r {
            let d = digitValue(byte)!
            if d >= 2 { return out + [digits[d - 1]] }
            if d == 1 { return out + [digits[0], digits[61]] }
            out.append(digits[0])
        }
        return out // unreachable for valid keys, which end in a non-zero digit
    }

    static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte) - 48
        case 65...90: Int(byte) - 55
        case 97...122: Int(byte) - 61
        default: nil
        }
    }
}
