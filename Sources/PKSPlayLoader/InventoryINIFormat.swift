import Foundation
import PKSPlayCore

/// Ansible's INI inventory format (the `ini` inventory plugin of ansible-core 2.19).
///
/// ```
/// host0 ansible_port=2222          # before any section: in "ungrouped"
/// [web]
/// web[01:03].example.com user=deploy x='quoted value'
/// [web:vars]
/// ntp = ntp.example.com
/// [prod:children]
/// web
/// ```
/// Lines are trimmed; `#` and `;` start comment lines; `#` also ends a host line (shell-style, even
/// inside a word: `color=#fff` sets `color` to ""). Values on host lines and in `[g:vars]` are read as
/// Python literals (`5` → int, `True` → bool, `'a b'` → "a b") and otherwise kept as text. A group named
/// only in `[x:vars]`, or listed in `[y:children]`, must be declared by a `[x]` or `[x:children]` section.
enum InventoryINIFormat {
    /// Past this many problems in one file, the rest would only bury the first ones.
    static let maxErrors = 100

    /// Parses INI lines into `builder`, collecting a diagnostic per bad line and going on.
    /// `lines` is nil for a line that was not valid UTF-8.
    static func parse(lines: [String?], file: String, into builder: inout InventoryBuilder) {
        var group = "ungrouped"
        var state = "hosts"
        // Groups named before they are declared: name → (line, state, parents).
        var pending: [String: (line: Int, state: String, parents: [String])] = [:]
        var pendingOrder: [String] = []

        func location(_ line: Int, _ column: Int = 1) -> SourceLocation {
            SourceLocation(file: file, line: line, column: column)
        }

        func addPendingChildren(_ child: String) {
            var queue = [child]
            while let next = queue.popLast() {
                guard let declaration = pending.removeValue(forKey: next) else { continue }
                for parent in declaration.parents {
                    builder.addChild(next, to: parent, at: location(declaration.line))
                    if pending[parent]?.state == "children" { queue.append(parent) }
                }
            }
        }

        let errorsBefore = builder.diagnostics.count
        for (index, maybeLine) in lines.enumerated() {
            let lineNumber = index + 1
            if builder.diagnostics.count - errorsBefore >= maxErrors {
                builder.error(
                    "too many errors; stopped reading at line \(lineNumber)", at: location(lineNumber),
                    hint: "check that this file is an INI inventory")
                return
            }
            guard let raw = maybeLine else {
                builder.error(
                    "this line is not valid UTF-8 text", at: location(lineNumber),
                    hint: "save the inventory as UTF-8; only comment lines may hold other bytes")
                continue
            }
            let line = raw.trimmingCharacters(in: .whitespaces)
            let column = (raw.firstIndex { !$0.isWhitespace }.map { raw.distance(from: raw.startIndex, to: $0) } ?? 0) + 1
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }

            if let section = sectionHeader(line) {
                guard ["hosts", "children", "vars"].contains(section.kind) else {
                    builder.error(
                        "section [\(section.name):\(section.kind)] has unknown type '\(section.kind)'", at: location(lineNumber, column),
                        hint: "a section is [group], [group:vars] or [group:children]")
                    group = section.name
                    state = "invalid"
                    continue
                }
                group = section.name
                state = section.kind
                if builder.inventory.groups[group] == nil {
                    if state == "vars" && pending[group] == nil {
                        pending[group] = (lineNumber, state, [])
                        pendingOrder.append(group)
                    }
                    builder.addGroup(group, at: location(lineNumber, column))
                }
                if let declaration = pending[group], state != "vars" {
                    if declaration.state == "children" { addPendingChildren(group) } else { pending[group] = nil }
                }
                continue
            }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                builder.error(
                    "invalid section header '\(line)'", at: location(lineNumber, column),
                    hint: "a section is [group], [group:vars] or [group:children], without spaces inside the brackets")
                state = "invalid"
                continue
            }

            switch state {
            case "hosts":
                parseHostLine(line, raw: raw, group: group, at: location(lineNumber, column), into: &builder)
            case "vars":
                guard let equals = line.firstIndex(of: "=") else {
                    builder.error(
                        "expected key=value in [\(group):vars], got '\(line)'", at: location(lineNumber, column),
                        hint: "write one variable per line: name = value")
                    continue
                }
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                builder.setGroupVariable(group, key, InventoryPythonLiteral.value(value), at: location(lineNumber, column))
            case "children":
                guard let child = groupName(line) else {
                    builder.error(
                        "expected a group name in [\(group):children], got '\(line)'", at: location(lineNumber, column),
                        hint: "list one group name per line; names cannot contain spaces, ':' or ']'")
                    continue
                }
                if builder.inventory.groups[child] == nil {
                    if pending[child] == nil {
                        pending[child] = (lineNumber, "children", [group])
                        pendingOrder.append(child)
                    } else {
                        pending[child]?.parents.append(group)
                    }
                } else {
                    builder.addChild(child, to: group, at: location(lineNumber, column))
                }
            default:
                // Lines under a section that was already reported as invalid.
                continue
            }
        }

        for name in pendingOrder {
            guard let declaration = pending[name] else { continue }
            if declaration.state == "vars" {
                builder.error(
                    "section [\(name):vars] is for group '\(name)', which is never declared", at: location(declaration.line),
                    hint: "declare the group with a [\(name)] or [\(name):children] section, or fix the name")
            } else {
                builder.error(
                    "section [\(declaration.parents.last ?? "?"):children] includes group '\(name)', which is never declared",
                    at: location(declaration.line),
                    hint: closestMatch(to: name, in: builder.inventory.groups.keys).map { "did you mean '\($0)'?" }
                        ?? "declare it with a [\(name)] section (it may be empty)")
            }
        }
    }

    /// `[name]` or `[name:kind]`, optionally followed by a `#` comment.
    private static func sectionHeader(_ line: String) -> (name: String, kind: String)? {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return nil }
        let inside = line[line.index(after: line.startIndex)..<close]
        let rest = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard rest.isEmpty || rest.hasPrefix("#") else { return nil }
        let parts = inside.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "]" }) else { return nil }
        if parts.count == 1 { return (name, "hosts") }
        let kind = String(parts[1])
        guard !kind.isEmpty, kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return (name, kind)
    }

    /// A lone group name, optionally followed by a `#` comment.
    private static func groupName(_ line: String) -> String? {
        let name = line.prefix { !$0.isWhitespace && $0 != "#" }
        let rest = line[name.endIndex...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains(":"), !name.contains("]"), rest.isEmpty || rest.hasPrefix("#") else { return nil }
        return String(name)
    }

    private static func parseHostLine(_ line: String, raw: String, group: String, at location: SourceLocation, into builder: inout InventoryBuilder) {
        let tokens: [String]
        do {
            tokens = try shellSplit(line)
        } catch {
            builder.error(
                "cannot read host line '\(line)': \(error.message)", at: location,
                hint: "close the quote, or escape it with a backslash")
            return
        }
        guard let pattern = tokens.first else { return }
        let expanded: (hosts: [String], port: Int?)
        do {
            expanded = try InventoryHostRange.expand(pattern)
        } catch {
            builder.error(error.message, at: location, hint: error.hint)
            return
        }
        if pattern.trimmingCharacters(in: .whitespaces).hasSuffix(":") && expanded.port == nil {
            builder.error(
                "invalid host pattern '\(pattern)': a trailing ':' is reserved for a port", at: location,
                hint: "write host:port with a number, or drop the ':'")
            return
        }
        if expanded.hosts.contains(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) {
            builder.error(
                "invalid host pattern '---', which usually means this is a YAML file read as INI", at: location,
                hint: "give YAML inventories a .yml or .yaml extension")
            return
        }
        var variables: [(String, Value)] = []
        for token in tokens.dropFirst() {
            guard let equals = token.firstIndex(of: "=") else {
                let column = raw.range(of: token).map { raw.distance(from: raw.startIndex, to: $0.lowerBound) + 1 } ?? location.column
                builder.error(
                    "expected key=value after the host name, got '\(token)'",
                    at: SourceLocation(file: location.file, line: location.line, column: column),
                    hint: "host variables are written name=value; quote values with spaces: name='a b'")
                return
            }
            variables.append((String(token[..<equals]), InventoryPythonLiteral.value(String(token[token.index(after: equals)...]))))
        }
        for host in expanded.hosts {
            builder.addHost(host, group: group, port: expanded.port, at: location)
            for (key, value) in variables { builder.setHostVariable(host, key, value) }
        }
    }

    struct ShellSplitError: Error {
        var message: String
    }

    /// Python's `shlex.split(line, comments=True)` in POSIX mode.
    static func shellSplit(_ line: String) throws(ShellSplitError) -> [String] {
        enum State { case between, word, single, double }
        var tokens: [String] = []
        var token = ""
        var inToken = false
        var state = State.between
        var chars = line.makeIterator()
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
        while let c = chars.next() {
            switch state {
            case .between, .word:
                if isSpace(c) {
                    if inToken { tokens.append(token) }
                    token = ""
                    inToken = false
                    state = .between
                } else if c == "#" {
                    if inToken { tokens.append(token) }
                    return tokens
                } else if c == "'" {
                    state = .single
                    inToken = true
                } else if c == "\"" {
                    state = .double
                    inToken = true
                } else if c == "\\" {
                    guard let next = chars.next() else { throw ShellSplitError(message: "no escaped character after '\\'") }
                    token.append(next)
                    inToken = true
                    state = .word
                } else {
                    token.append(c)
                    inToken = true
                    state = .word
                }
            case .single:
                if c == "'" { state = .word } else { token.append(c) }
            case .double:
                if c == "\"" {
                    state = .word
                } else if c == "\\" {
                    guard let next = chars.next() else { throw ShellSplitError(message: "no escaped character after '\\'") }
                    // Inside double quotes a backslash only escapes `\` and `"`.
                    if next != "\\" && next != "\"" { token.append("\\") }
                    token.append(next)
                } else {
                    token.append(c)
                }
            }
        }
        if state == .single || state == .double { throw ShellSplitError(message: "no closing quotation") }
        if inToken { tokens.append(token) }
        return tokens
    }
}
