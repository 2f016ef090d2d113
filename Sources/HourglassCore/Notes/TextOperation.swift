import Foundation

/// Why an operation was refused.
public struct OperationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An edit of one bullet's text, ot.js style: a sequence of retain / insert / delete components
/// that walks the whole document. Lengths and offsets are UTF-16 code units, exactly as in
/// JavaScript strings, so the browser (`Public/ot.js`) and the server agree on every position.
/// The algorithms (normalization, `compose`, `transform`, `invert`) follow ot.js line by line; the
/// same randomized vectors (Tests/fixtures/ot-vectors.json) run through both implementations.
public struct TextOperation: Sendable, Equatable, CustomStringConvertible {
    public enum Component: Sendable, Equatable {
        case retain(Int)
        /// Inserted text as UTF-16 code units.
        case insert([UInt16])
        /// Number of code units to delete (positive).
        case delete(Int)
    }

    public private(set) var components: [Component] = []
    /// Length of the text the operation applies to.
    public private(set) var baseLength = 0
    /// Length of the text it produces.
    public private(set) var targetLength = 0

    public init() {}

    // MARK: Building (with ot.js normalization)

    @discardableResult
    public mutating func retain(_ n: Int) -> Self {
        guard n != 0 else { return self }
        baseLength += n
        targetLength += n
        if case let .retain(m)? = components.last {
            components[components.count - 1] = .retain(m + n)
        } else {
            components.append(.retain(n))
        }
        return self
    }

    @discardableResult
    public mutating func insert(_ text: String) -> Self { insert(Array(text.utf16)) }

    @discardableResult
    public mutating func insert(_ units: [UInt16]) -> Self {
        guard !units.isEmpty else { return self }
        targetLength += units.count
        let count = components.count
        switch components.last {
        case let .insert(existing)?:
            components[count - 1] = .insert(existing + units)
        case .delete?:
            // An insert next to a delete always comes first, so equal effects compare equal.
            if count >= 2, case let .insert(existing) = components[count - 2] {
                components[count - 2] = .insert(existing + units)
            } else {
                components.insert(.insert(units), at: count - 1)
            }
        default:
            components.append(.insert(units))
        }
        return self
    }

    @discardableResult
    public mutating func delete(_ n: Int) -> Self {
        guard n != 0 else { return self }
        let n = abs(n)
        baseLength += n
        if case let .delete(m)? = components.last {
            components[components.count - 1] = .delete(m + n)
        } else {
            components.append(.delete(n))
        }
        return self
    }

    /// True when applying it changes nothing.
    public var isNoop: Bool {
        components.isEmpty || (components.count == 1 && { if case .retain = components[0] { return true }; return false }())
    }

    // MARK: Applying

    /// Applies the operation to `text`. Throws when the lengths do not match or when a component
    /// boundary would split a surrogate pair of `text`.
    public func apply(_ text: String) throws -> String {
        let units = Array(text.utf16)
        return String(decoding: try apply(units: units), as: UTF16.self)
    }

    public func apply(units: [UInt16]) throws -> [UInt16] {
        guard units.count == baseLength else {
            throw OperationError("The operation's base length (\(baseLength)) is not the text's length (\(units.count))")
        }
        var result: [UInt16] = []
        result.reserveCapacity(targetLength)
        var index = 0
        for component in components {
            switch component {
            case let .retain(n):
                guard index + n <= units.count else { throw OperationError("The operation retains past the end of the text") }
                result.append(contentsOf: units[index..<index + n])
                index += n
                try Self.checkBoundary(index, in: units)
            case let .insert(inserted):
                result.append(contentsOf: inserted)
            case let .delete(n):
                guard index + n <= units.count else { throw OperationError("The operation deletes past the end of the text") }
                index += n
                try Self.checkBoundary(index, in: units)
            }
        }
        guard index == units.count else { throw OperationError("The operation does not cover the whole text") }
        return result
    }

    static func checkBoundary(_ index: Int, in units: [UInt16]) throws {
        guard index > 0, index < units.count else { return }
        if UTF16.isLeadSurrogate(units[index - 1]) && UTF16.isTrailSurrogate(units[index]) {
            throw OperationError("The operation splits a surrogate pair at offset \(index)")
        }
    }

    /// The operation that undoes this one on the text it was applied to.
    public func invert(_ text: String) throws -> TextOperation {
        let units = Array(text.utf16)
        _ = try apply(units: units)
        var inverse = TextOperation()
        var index = 0
        for component in components {
            switch component {
            case let .retain(n):
                inverse.retain(n)
                index += n
            case let .insert(inserted):
                inverse.delete(inserted.count)
            case let .delete(n):
                inverse.insert(Array(units[index..<min(units.count, index + n)]))
                index += n
            }
        }
        return inverse
    }

    // MARK: Compose and transform

    /// One operation with the effect of this one followed by `other`.
    public func compose(_ other: TextOperation) throws -> TextOperation {
        guard targetLength == other.baseLength else {
            throw OperationError("Cannot compose: the first operation's target length (\(targetLength)) is not the second's base length (\(other.baseLength))")
        }
        var result = TextOperation()
        var it1 = components.makeIterator(), it2 = other.components.makeIterator()
        var op1 = it1.next(), op2 = it2.next()
        while true {
            if op1 == nil && op2 == nil { break }
            if case let .delete(n)? = op1 {
                result.delete(n)
                op1 = it1.next()
                continue
            }
            if case let .insert(s)? = op2 {
                result.insert(s)
                op2 = it2.next()
                continue
            }
            guard let a = op1 else { throw OperationError("Cannot compose: the first operation is too short") }
            guard let b = op2 else { throw OperationError("Cannot compose: the first operation is too long") }
            switch (a, b) {
            case let (.retain(n1), .retain(n2)):
                if n1 > n2 {
                    result.retain(n2); op1 = .retain(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    result.retain(n1); op1 = it1.next(); op2 = it2.next()
                } else {
                    result.retain(n1); op2 = .retain(n2 - n1); op1 = it1.next()
                }
            case let (.insert(s), .delete(n2)):
                if s.count > n2 {
                    try Self.checkBoundary(n2, in: s)
                    op1 = .insert(Array(s[n2...])); op2 = it2.next()
                } else if s.count == n2 {
                    op1 = it1.next(); op2 = it2.next()
                } else {
                    op2 = .delete(n2 - s.count); op1 = it1.next()
                }
            case let (.insert(s), .retain(n2)):
                if s.count > n2 {
                    try Self.checkBoundary(n2, in: s)
                    result.insert(Array(s[..<n2])); op1 = .insert(Array(s[n2...])); op2 = it2.next()
                } else if s.count == n2 {
                    result.insert(s); op1 = it1.next(); op2 = it2.next()
                } else {
                    result.insert(s); op2 = .retain(n2 - s.count); op1 = it1.next()
                }
            case let (.retain(n1), .delete(n2)):
                if n1 > n2 {
                    result.delete(n2); op1 = .retain(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    result.delete(n2); op1 = it1.next(); op2 = it2.next()
                } else {
                    result.delete(n1); op2 = .delete(n2 - n1); op1 = it1.next()
                }
            default:
                throw OperationError("Cannot compose these operations")
            }
        }
        return result
    }

    /// Transforms two concurrent operations on the same text into `(a′, b′)` such that
    /// applying `a` then `b′` equals applying `b` then `a′`. When both insert at the same place,
    /// `a`'s text comes first.
    public static func transform(_ a: TextOperation, _ b: TextOperation) throws -> (TextOperation, TextOperation) {
        guard a.baseLength == b.baseLength else {
            throw OperationError("Cannot transform operations on texts of different lengths (\(a.baseLength) and \(b.baseLength))")
        }
        var aPrime = TextOperation(), bPrime = TextOperation()
        var it1 = a.components.makeIterator(), it2 = b.components.makeIterator()
        var op1 = it1.next(), op2 = it2.next()
        while true {
            if op1 == nil && op2 == nil { break }
            if case let .insert(s)? = op1 {
                aPrime.insert(s); bPrime.retain(s.count)
                op1 = it1.next()
                continue
            }
            if case let .insert(s)? = op2 {
                aPrime.retain(s.count); bPrime.insert(s)
                op2 = it2.next()
                continue
            }
            guard let x = op1 else { throw OperationError("Cannot transform: the first operation is too short") }
            guard let y = op2 else { throw OperationError("Cannot transform: the first operation is too long") }
            switch (x, y) {
            case let (.retain(n1), .retain(n2)):
                let minLength: Int
                if n1 > n2 {
                    minLength = n2; op1 = .retain(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    minLength = n2; op1 = it1.next(); op2 = it2.next()
                } else {
                    minLength = n1; op2 = .retain(n2 - n1); op1 = it1.next()
                }
                aPrime.retain(minLength); bPrime.retain(minLength)
            case let (.delete(n1), .delete(n2)):
                if n1 > n2 {
                    op1 = .delete(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    op1 = it1.next(); op2 = it2.next()
                } else {
                    op2 = .delete(n2 - n1); op1 = it1.next()
                }
            case let (.delete(n1), .retain(n2)):
                let minLength: Int
                if n1 > n2 {
                    minLength = n2; op1 = .delete(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    minLength = n2; op1 = it1.next(); op2 = it2.next()
                } else {
                    minLength = n1; op2 = .retain(n2 - n1); op1 = it1.next()
                }
                aPrime.delete(minLength)
            case let (.retain(n1), .delete(n2)):
                let minLength: Int
                if n1 > n2 {
                    minLength = n2; op1 = .retain(n1 - n2); op2 = it2.next()
                } else if n1 == n2 {
                    minLength = n1; op1 = it1.next(); op2 = it2.next()
                } else {
                    minLength = n1; op2 = .delete(n2 - n1); op1 = it1.next()
                }
                bPrime.delete(minLength)
            default:
                throw OperationError("The two operations are not compatible")
            }
        }
        return (aPrime, bPrime)
    }

    public var description: String {
        components.map { component in
            switch component {
            case let .retain(n): "retain \(n)"
            case let .insert(units): "insert \(String(decoding: units, as: UTF16.self).debugDescription)"
            case let .delete(n): "delete \(n)"
            }
        }.joined(separator: ", ")
    }
}

// MARK: JSON (the ot.js wire form: [retain, "insert", -delete, …])

extension TextOperation: Codable {
    /// Largest length a single component may carry on the wire.
    public static let maxComponentLength = Int(Int32.max)

    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init()
        while !container.isAtEnd {
            if let n = try? container.decode(Int.self) {
                guard n != 0, abs(n) <= Self.maxComponentLength else {
                    throw OperationError("Operation components must be non-zero whole numbers up to \(Self.maxComponentLength)")
                }
                if n > 0 { retain(n) } else { delete(-n) }
            } else if let text = try? container.decode(String.self) {
                guard !text.isEmpty else { throw OperationError("Inserted text must not be empty") }
                insert(text)
            } else {
                throw OperationError("Operation components must be numbers (retain > 0, delete < 0) or strings (insert)")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        for component in components {
            switch component {
            case let .retain(n): try container.encode(n)
            case let .insert(units): try container.encode(String(decoding: units, as: UTF16.self))
            case let .delete(n): try container.encode(-n)
            }
        }
    }
}
