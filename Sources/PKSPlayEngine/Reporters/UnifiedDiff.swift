/// Lines of a unified diff (with `@@` hunk headers and 3 lines of context) between two texts.
func unifiedDiff(_ a: String, _ b: String, context: Int = 3) -> [String] {
    var x = a.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var y = b.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    // A final newline ends the last line; it is not an empty line of its own.
    if a.hasSuffix("\n") { x.removeLast() }
    if b.hasSuffix("\n") { y.removeLast() }
    // Longest common subsequence table; inputs past a few thousand lines fall back to a whole replace.
    let n = x.count, m = y.count
    var ops: [(Character, String)] = []
    if n * m > 4_000_000 {
        ops = x.map { ("-", $0) } + y.map { ("+", $0) }
    } else {
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, x[i] == y[j] { ops.append((" ", x[i])); i += 1; j += 1 }
            // Removed lines come before the lines that replace them, as diff -u prints them.
            else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] { ops.append(("-", x[i])); i += 1 }
            else { ops.append(("+", y[j])); j += 1 }
        }
    }
    var out: [String] = []
    var k = 0
    while k < ops.count {
        guard ops[k].0 != " " else { k += 1; continue }
        let start = max(0, k - context)
        var end = k
        var lastChange = k
        while end < ops.count && end - lastChange <= context * 2 {
            if ops[end].0 != " " { lastChange = end }
            end += 1
        }
        end = min(ops.count, lastChange + context + 1)
        let oldStart = ops[..<start].filter { $0.0 != "+" }.count + 1
        let newStart = ops[..<start].filter { $0.0 != "-" }.count + 1
        let slice = ops[start..<end]
        out.append("@@ -\(oldStart),\(slice.filter { $0.0 != "+" }.count) +\(newStart),\(slice.filter { $0.0 != "-" }.count) @@")
        out += slice.map { String($0.0) + $0.1 }
        k = end
    }
    return out
}
