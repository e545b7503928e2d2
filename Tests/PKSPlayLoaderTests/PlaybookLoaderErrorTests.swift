import Foundation
import PKSPlayCore
import PKSPlayLoader
import PKSPlayModules
import Testing

/// One bad playbook and what `syntax-check` must say about it.
struct BadPlaybook: CustomTestStringConvertible, Sendable {
    let name: String
    let yaml: String
    var files: [String: String] = [:]
    /// The error's message contains this.
    let message: String
    let line: Int
    let column: Int
    /// The hint contains this (`nil`: no hint checked).
    var hint: String?
    /// The file the error is in, relative to the playbook's folder.
    var file = "playbook.yml"
    var severity = Diagnostic.Severity.error

    var testDescription: String { name }
}

@Suite("Playbook loader errors")
struct PlaybookLoaderErrorTests {
    static let cases: [BadPlaybook] = [
        // YAML syntax
        BadPlaybook(name: "bad indentation", yaml: """
            - hosts: all
              tasks:
                - name: a
                  debug: msg=x
                 - name: b
                   debug: msg=y
            """, message: "did not find expected '-' indicator", line: 5, column: 6, hint: "indentation"),
        BadPlaybook(name: "unclosed quote", yaml: """
            - hosts: all
              tasks:
                - name: "a
                  debug: msg=x
            """, message: "while scanning a quoted scalar at line 3, column 13", line: 4, column: 19, hint: "never closed"),
        BadPlaybook(name: "key: value: x", yaml: """
            - hosts: all
              tasks:
                - name: a: b
                  debug: msg=x
            """, message: "mapping values are not allowed", line: 3, column: 14, hint: "must be quoted"),
        BadPlaybook(name: "tab indentation", yaml: "- hosts: all\n  tasks:\n\t- debug: msg=x\n", message: "cannot start any token", line: 3, column: 1, hint: "never tabs"),
        BadPlaybook(name: "unquoted {{ at value start", yaml: """
            - hosts: all
              tasks:
                - debug:
                    msg: {{ x }}
            """, message: "a value starting with '{{' must be quoted", line: 4, column: 14, hint: "\"{{ ... }}\""),
        // Keywords
        BadPlaybook(name: "unknown play keyword", yaml: "- hots: all\n  tasks: []\n", message: "'hots' is not a valid attribute for a play",
                    line: 1, column: 3, hint: "did you mean 'hosts'"),
        BadPlaybook(name: "unknown task keyword", yaml: """
            - hosts: all
              tasks:
                - debug: msg=x
                  whenn: true
            """, message: "'whenn' is not a valid task keyword", line: 4, column: 7, hint: "did you mean 'when'"),
        BadPlaybook(name: "unknown module", yaml: """
            - hosts: all
              tasks:
                - comand: ls
            """, message: "couldn't resolve module/action 'comand'", line: 3, column: 7, hint: "did you mean 'command'"),
        BadPlaybook(name: "two modules in one task", yaml: """
            - hosts: all
              tasks:
                - command: ls
                  shell: ls
            """, message: "two actions", line: 4, column: 7, hint: "split it into two tasks"),
        BadPlaybook(name: "module at play level", yaml: """
            - hosts: all
              command: ls
            """, message: "'command' is not a valid attribute for a play", line: 2, column: 3, hint: "tasks go under 'tasks:'"),
        // Arguments
        BadPlaybook(name: "wrong argument type", yaml: """
            - hosts: all
              tasks:
                - copy:
                    dest: [1]
                    content: x
            """, message: "argument 'dest' is of type list", line: 4, column: 9, hint: nil),
        BadPlaybook(name: "retries not a number", yaml: """
            - hosts: all
              tasks:
                - command: ls
                  retries: many
            """, message: "'retries' must be a number", line: 4, column: 16, hint: "retries: 5"),
        BadPlaybook(name: "missing required argument", yaml: """
            - hosts: all
              tasks:
                - lineinfile:
                    line: x
            """, message: "missing required argument 'path'", line: 4, column: 9, hint: "path"),
        BadPlaybook(name: "unsupported argument with suggestion", yaml: """
            - hosts: all
              tasks:
                - copy:
                    dest: /tmp/x
                    contnet: x
            """, message: "unsupported argument 'contnet'", line: 5, column: 9, hint: "content"),
        BadPlaybook(name: "register not a name", yaml: """
            - hosts: all
              tasks:
                - command: ls
                  register: 1bad
            """, message: "'register' must be a variable name", line: 4, column: 17, hint: "letters, digits and underscores"),
        BadPlaybook(name: "loop is a mapping", yaml: """
            - hosts: all
              tasks:
                - debug: msg=x
                  loop: {a: 1}
            """, message: "'loop' must be a list", line: 4, column: 13, hint: "loop: [a, b]"),
        // Structure
        BadPlaybook(name: "rescue without block", yaml: """
            - hosts: all
              tasks:
                - rescue:
                    - debug: msg=x
            """, message: "'rescue' needs a 'block' beside it", line: 3, column: 7, hint: "add 'block:'"),
        BadPlaybook(name: "import_tasks of a missing file", yaml: """
            - hosts: all
              tasks:
                - import_tasks: nothere.yml
            """, message: "file not found", line: 3, column: 7, hint: "check the path"),
        BadPlaybook(name: "import_playbook cycle", yaml: "- import_playbook: other.yml\n", files: ["other.yml": "- import_playbook: playbook.yml\n"],
                    message: "import_playbook cycle: playbook.yml → other.yml → playbook.yml", line: 1, column: 3, hint: "leads back", file: "other.yml"),
        BadPlaybook(name: "import_playbook of a missing file", yaml: "- import_playbook: nothere.yml\n", message: "file not found: nothere.yml", line: 1, column: 3,
                    hint: "check the path"),
        BadPlaybook(name: "empty playbook", yaml: "", message: "the playbook is empty", line: 1, column: 1, hint: "hosts: all"),
        BadPlaybook(name: "a play that is a list", yaml: "- - hosts: all\n", message: "a play must be a mapping, not a list", line: 1, column: 3,
                    hint: "hosts: ..."),
        BadPlaybook(name: "playbook that is a mapping", yaml: "hosts: all\ntasks: []\n", message: "a playbook must be a list of plays", line: 1, column: 1,
                    hint: "- hosts:"),
        BadPlaybook(name: "duplicate keys warn", yaml: """
            - hosts: all
              tasks:
                - name: a
                  name: b
                  debug: msg=x
            """, message: "duplicate", line: 4, column: 7, hint: nil, severity: .warning),
        BadPlaybook(name: "vars_files not a list", yaml: """
            - hosts: all
              vars_files: {a: 1}
              tasks: []
            """, message: "'vars_files' must be a list of file names", line: 2, column: 15, hint: nil),
        BadPlaybook(name: "play without hosts", yaml: "- tasks: []\n", message: "the play has no 'hosts'", line: 1, column: 3, hint: "hosts: all"),
        BadPlaybook(name: "tasks not a list", yaml: "- hosts: all\n  tasks: {debug: msg=x}\n", message: "'tasks' must be a list of tasks", line: 2, column: 10,
                    hint: "- name:"),
        BadPlaybook(name: "when as a mapping", yaml: """
            - hosts: all
              tasks:
                - debug: msg=x
                  when: {a: 1}
            """, message: "'when' must be a condition", line: 4, column: 13, hint: "quote it"),
        BadPlaybook(name: "block with a module key", yaml: """
            - hosts: all
              tasks:
                - block:
                    - debug: msg=x
                  command: ls
            """, message: "'command' is not a valid attribute for a block", line: 5, column: 7, hint: "move the module into a task"),
        BadPlaybook(name: "error inside an imported file points there", yaml: """
            - hosts: all
              tasks:
                - import_tasks: inc.yml
            """, files: ["inc.yml": "- debug: msg=x\n  whenn: true\n"], message: "'whenn' is not a valid task keyword", line: 2, column: 3,
                    hint: "when", file: "inc.yml"),
        BadPlaybook(name: "role not found", yaml: "- hosts: all\n  roles: [nosuchrole]\n", message: "the role 'nosuchrole' was not found", line: 2, column: 11,
                    hint: "roles/nosuchrole/tasks/main.yml"),
    ]

    @Test("each bad playbook gets a located error with a hint", arguments: cases)
    func badPlaybook(_ c: BadPlaybook) throws {
        let (playbook, diags, fixture) = try diagnostics(of: c.yaml, files: c.files)
        let relevant = diags.filter { $0.severity == c.severity }
        let hit = try #require(relevant.first { $0.message.contains(c.message) }, "no \(c.severity) containing '\(c.message)' in:\n\(diags.map(\.description).joined(separator: "\n"))")
        let location = try #require(hit.location)
        #expect(location.file == fixture.path(c.file), "\(hit)")
        #expect(location.line == c.line, "\(hit)")
        #expect(location.column == c.column, "\(hit)")
        if let hint = c.hint { #expect(hit.hint?.contains(hint) == true, "\(hit)") }
        if c.severity == .error {
            #expect(playbook == nil)
            #expect(throws: DiagnosticList.self) { try PlaybookLoader(registry: StandardModules.registry).loadPlaybook(fixture.path("playbook.yml")) }
        } else {
            #expect(playbook != nil)
        }
    }

    @Test("syntax-check reports every independent error, not only the first")
    func collectsAllErrors() throws {
        let (_, diags, _) = try diagnostics(of: """
            - hosts: all
              tasks:
                - comand: ls
                - debug: msg=x
                  whenn: true
                - command: ls
                  register: 1bad
            """)
        let errors = diags.filter { $0.severity == .error }
        #expect(errors.count == 3, "\(errors)")
        #expect(errors.compactMap(\.location?.line) == [3, 5, 7])
    }

    @Test("errors in several plays and an imported file are all reported")
    func collectsAcrossFiles() throws {
        let (_, diags, fixture) = try diagnostics(of: """
            - hots: all
              tasks: []
            - hosts: all
              tasks:
                - import_tasks: inc.yml
                - comand: ls
            """, files: ["inc.yml": "- shel: ls\n"])
        let errors = diags.filter { $0.severity == .error }
        #expect(errors.count == 4, "\(errors)")  // hots, no hosts in play 1, shel, comand
        #expect(errors.contains { $0.location?.file == fixture.path("inc.yml") && $0.message.contains("shel") })
    }

    @Test("every diagnostic's description reads file:line:col: error: message")
    func descriptionFormat() throws {
        let (_, diags, fixture) = try diagnostics(of: "- hots: all\n")
        let first = try #require(diags.first)
        #expect(first.description.hasPrefix("\(fixture.path("playbook.yml")):1:3: error: "))
        #expect(first.description.contains("\n  hint: "))
    }
}
