import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * Finds, in the source folders, every error code the code can raise: the code argument of
 * `new StrongboxError(…)`, of `super(…)` in its subclasses and of any constructor or
 * function that passes its `code` parameter on to one, and the `errorCode` a failed catalog
 * entry is given. String literals count wherever they sit in the expression (ternaries,
 * `??`); module constants are followed to their literal. Also lists every bare
 * `throw new Error(…)`. Syntax only (no type checker): fast, and blind to codes built at
 * run time, which it reports as dynamic.
 */

/** Where a code or a bare throw was found: `path:line`. */
export type Site = string;

/** What the scan found. */
export interface ScanResult {
  /** Each literal code with the sites that raise it. */
  codes: Map<string, Site[]>;
  /** Code arguments that are neither a literal nor forwarded: e.g. a template with `${}`. */
  dynamic: Site[];
  /** `throw new Error(…)` outside tests. */
  bareThrows: Site[];
  files: number;
}

const CODE_PARAMETERS = new Set(['code', 'errorCode']);

function sourceFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** A callable (class or function) whose parameter at `index` is an error code it passes on. */
interface Forwarder {
  index: number;
}

interface Parsed {
  path: string;
  file: ts.SourceFile;
}

function parse(path: string): Parsed {
  const text = readFileSync(path, 'utf8');
  return { path, file: ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, path.endsWith('ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS) };
}

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

function calleeName(expression: ts.Expression): string | undefined {
  if (ts.isIdentifier(expression)) return expression.text;
  if (ts.isPropertyAccessExpression(expression)) return expression.name.text;
  return undefined;
}

/** Module-level `const NAME = 'LITERAL'` of every file (names are unique enough across the code). */
function stringConstants(files: Parsed[]): Map<string, string> {
  const constants = new Map<string, string>();
  for (const { file } of files) {
    for (const statement of file.statements) {
      if (!ts.isVariableStatement(statement) || !(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
      for (const declaration of statement.declarationList.declarations) {
        let init = declaration.initializer;
        while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
        if (ts.isIdentifier(declaration.name) && init && ts.isStringLiteralLike(init)) constants.set(declaration.name.text, init.text);
      }
    }
  }
  return constants;
}

/** The enclosing function-like node's parameter names, innermost first. */
function parameterIndex(node: ts.Node, name: string): { owner: ts.SignatureDeclaration; index: number } | undefined {
  for (let at: ts.Node | undefined = node.parent; at; at = at.parent) {
    if (ts.isFunctionLike(at)) {
      const index = at.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === name);
      if (index >= 0) return { owner: at, index };
    }
  }
  return undefined;
}

/** The name a call site uses for `owner`: the class for a constructor, else the function's or variable's name. */
function ownerName(owner: ts.SignatureDeclaration): string | undefined {
  if (ts.isConstructorDeclaration(owner)) return owner.parent.name?.text;
  if (owner.name && ts.isIdentifier(owner.name)) return owner.name.text;
  if (ts.isVariableDeclaration(owner.parent) && ts.isIdentifier(owner.parent.name)) return owner.parent.name.text;
  return undefined;
}

function extendsName(node: ts.ClassLikeDeclaration): string | undefined {
  const clause = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
  const type = clause?.types[0]?.expression;
  return type ? calleeName(type) : undefined;
}

/**
 * Scans `dirs` (relative to `root`). Error classes are StrongboxError and every class
 * extending one (transitively, by name).
 */
export function scanErrorCodes(root: string, dirs: readonly string[], exclude: (path: string) => boolean = () => false): ScanResult {
  const files = dirs.flatMap((dir) => sourceFiles(join(root, dir))).filter((path) => !exclude(relative(root, path))).map(parse);
  const constants = stringConstants(files);
  const errorClasses = new Set(['StrongboxError']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const { file } of files) {
      walk(file, (node) => {
        if (ts.isClassLike(node) && node.name && !errorClasses.has(node.name.text) && errorClasses.has(extendsName(node) ?? '')) {
          errorClasses.add(node.name.text);
          grew = true;
        }
      });
    }
  }

  const result: ScanResult = { codes: new Map(), dynamic: [], bareThrows: [], files: files.length };
  const site = (parsed: Parsed, node: ts.Node): Site => `${relative(root, parsed.path)}:${parsed.file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const add = (code: string, where: Site) => result.codes.set(code, [...(result.codes.get(code) ?? []), where]);

  // Code positions: StrongboxError's first argument, then any callable that forwards its `code`.
  const forwarders = new Map<string, Forwarder>([['StrongboxError', { index: 0 }]]);
  const positions: Array<{ parsed: Parsed; expression: ts.Expression }> = [];
  const visitCalls = (parsed: Parsed, node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'errorCode') positions.push({ parsed, expression: node.initializer });
    if (ts.isShorthandPropertyAssignment(node) && node.name.text === 'errorCode') positions.push({ parsed, expression: node.name });
    let name: string | undefined;
    let args: readonly ts.Expression[] | undefined;
    if (ts.isNewExpression(node)) [name, args] = [calleeName(node.expression), node.arguments];
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword) {
      const cls = node.parent && ts.findAncestor(node, ts.isClassLike);
      name = cls ? extendsName(cls) : undefined;
      args = node.arguments;
    } else if (ts.isCallExpression(node)) [name, args] = [calleeName(node.expression), node.arguments];
    const forwarder = name === undefined ? undefined : forwarders.get(name);
    if (forwarder && args && args[forwarder.index]) positions.push({ parsed, expression: args[forwarder.index]! });
  };
  // Grow the forwarders until stable: a parameter named code/errorCode passed into a code position.
  for (let grew = true; grew; ) {
    grew = false;
    positions.length = 0;
    for (const parsed of files) walk(parsed.file, (node) => visitCalls(parsed, node));
    for (const { expression } of positions) {
      const leaf = ts.isIdentifier(expression) ? expression : undefined;
      if (!leaf || !CODE_PARAMETERS.has(leaf.text)) continue;
      const found = parameterIndex(leaf, leaf.text);
      const owner = found && ownerName(found.owner);
      if (owner && !forwarders.has(owner)) {
        forwarders.set(owner, { index: found.index });
        grew = true;
      }
    }
  }

  for (const { parsed, expression } of positions) {
    const where = site(parsed, expression);
    const leaves = literals(expression, constants);
    for (const leaf of leaves) {
      if (leaf.kind === 'code') add(leaf.code, where);
      else if (leaf.kind === 'dynamic') result.dynamic.push(`${where} ${expression.getText(parsed.file).slice(0, 60)}`);
    }
  }

  for (const parsed of files) {
    walk(parsed.file, (node) => {
      if (ts.isThrowStatement(node) && ts.isNewExpression(node.expression) && calleeName(node.expression.expression) === 'Error') result.bareThrows.push(site(parsed, node));
    });
  }
  return result;
}

type Leaf = { kind: 'code'; code: string } | { kind: 'forwarded' } | { kind: 'dynamic' };

/**
 * The codes an expression can be: literals and constants count, a parameter named code /
 * errorCode or a property `.code` / `.errorCode` of another error is forwarded (its codes
 * were counted where they were raised); anything else is dynamic.
 */
function literals(expression: ts.Expression, constants: Map<string, string>): Leaf[] {
  if (ts.isStringLiteralLike(expression)) return [{ kind: 'code', code: expression.text }];
  if (ts.isParenthesizedExpression(expression) || ts.isAsExpression(expression) || ts.isSatisfiesExpression(expression) || ts.isNonNullExpression(expression)) return literals(expression.expression, constants);
  if (ts.isConditionalExpression(expression)) return [...literals(expression.whenTrue, constants), ...literals(expression.whenFalse, constants)];
  if (ts.isBinaryExpression(expression) && [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(expression.operatorToken.kind)) {
    return [...literals(expression.left, constants), ...literals(expression.right, constants)];
  }
  if (ts.isIdentifier(expression)) {
    const local = localInitializer(expression);
    if (local) return literals(local, constants);
    const value = constants.get(expression.text);
    if (value !== undefined) return [{ kind: 'code', code: value }];
    return CODE_PARAMETERS.has(expression.text) && parameterIndex(expression, expression.text) ? [{ kind: 'forwarded' }] : [{ kind: 'dynamic' }];
  }
  if (ts.isPropertyAccessExpression(expression) && CODE_PARAMETERS.has(expression.name.text)) return [{ kind: 'forwarded' }];
  return [{ kind: 'dynamic' }];
}

/** The initializer of the nearest `const`/`let` of that name in an enclosing block, if any. */
function localInitializer(identifier: ts.Identifier): ts.Expression | undefined {
  for (let at: ts.Node | undefined = identifier.parent; at && !ts.isSourceFile(at); at = at.parent) {
    if (!ts.isBlock(at)) continue;
    for (const statement of at.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      const found = statement.declarationList.declarations.find((d) => ts.isIdentifier(d.name) && d.name.text === identifier.text);
      if (found?.initializer) return found.initializer;
    }
  }
  return undefined;
}
