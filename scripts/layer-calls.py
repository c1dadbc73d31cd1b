#!/usr/bin/env python3
"""Derives which C files of a layer call which, and fails when those calls form a cycle.

For each folder given (default: every folder under src/), every .c file's external symbols are
the functions and variables it defines at file scope without `static`; file A calls file B when
A's code (comments and strings removed) names a symbol B defines. A layer's calls must go one
way: the check prints each cycle it finds as "folder: a.c -> b.c -> a.c" and exits 1, else
exits 0. With --graph it prints each folder's edges ("a.c -> b.c c.c"), files with no calls
out last, before checking.

Usage: layer-calls.py [--graph] [FOLDER...]
"""
import os
import re
import sys

COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
WORD = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
# A definition at file scope starts at column 0; its name is the word before "(" (a function)
# or before "[", "=" or ";" (a variable). Declarations (";" before any "{" for functions) and
# anything static or typedef are not definitions of an external symbol.
FUNCTION = re.compile(r'^(?!static\b|typedef\b|extern\b)[A-Za-z_][^;{}()]*?\b([A-Za-z_]\w*)\s*'
                      r'\([^;{]*\)\s*\{', re.M)
VARIABLE = re.compile(r'^(?!static\b|typedef\b|extern\b|struct\s+\w+\s*\{|enum\b|union\b)'
                      r'[A-Za-z_][^;{}()=]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=', re.M)


def strip(text):
    return COMMENT.sub(lambda match: ' ' if match.group(0)[0] == '/' else '""', text)


def folder_graph(folder):
    files = sorted(name for name in os.listdir(folder) if name.endswith('.c'))
    code = {}
    owner = {}
    for name in files:
        with open(os.path.join(folder, name), encoding='utf-8') as handle:
            code[name] = strip(handle.read())
        for pattern in (FUNCTION, VARIABLE):
            for match in pattern.finditer(code[name]):
                owner.setdefault(match.group(1), name)
    graph = {}
    for name in files:
        used = set(WORD.findall(code[name]))
        graph[name] = sorted({owner[word] for word in used if word in owner} - {name})
    return graph


def cycles(graph):
    """Each strongly connected component of more than one file, as one cycle through it."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(cycle_in(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def cycle_in(graph, component):
    """A shortest cycle through the component's first file (breadth-first search)."""
    start = min(component)
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in graph[node]:
            if succ == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if succ in component and succ not in previous:
                previous[succ] = node
                queue.append(succ)
    raise AssertionError('a strongly connected component has a cycle')


def main(arguments):
    show = '--graph' in arguments
    folders = [a for a in arguments if a != '--graph']
    if not folders:
        folders = sorted(os.path.join('src', d) for d in os.listdir('src')
                         if os.path.isdir(os.path.join('src', d)))
    status = 0
    for folder in folders:
        graph = folder_graph(folder)
        if show:
            order = sorted(graph, key=lambda n: (not graph[n], n))
            for name in order:
                print('%s: %s -> %s' % (folder, name, ' '.join(graph[name]) or '(none)'))
        for cycle in cycles(graph):
            status = 1
            print('%s: cycle: %s' % (folder, ' -> '.join(cycle)))
    return status


if __name__ == '__main__':
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    sys.exit(main(sys.argv[1:]))
