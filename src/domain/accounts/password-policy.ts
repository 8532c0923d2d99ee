// Password policy for new passwords (seed 004): 8–128 characters with an upper-case letter, a
// lower-case letter, a digit and a symbol by default; KEYMASTER_PASSWORD_* configure it.
import type { Config } from '../../config.js';
import { invalidRequest } from '../../errors.js';

export type PasswordPolicy = Config['passwordPolicy'];

export function describePolicy(p: PasswordPolicy): string {
  const classes = p.requireClasses ? ' with an upper-case letter, a lower-case letter, a digit and a symbol' : '';
  return `${p.minLength}-${p.maxLength} characters${classes}`;
}

/** The problems with `password`, empty when it passes. Length counts Unicode code points. */
export function passwordProblems(p: PasswordPolicy, password: string): string[] {
  const length = [...password].length;
  const problems: string[] = [];
  if (length < p.minLength) problems.push(`at least ${p.minLength} characters`);
  if (length > p.maxLength) problems.push(`at most ${p.maxLength} characters`);
  if (p.requireClasses) {
    if (!/\p{Lu}/u.test(password)) problems.push('an upper-case letter');
    if (!/\p{Ll}/u.test(password)) problems.push('a lower-case letter');
    if (!/\p{Nd}/u.test(password)) problems.push('a digit');
    if (!/[^\p{L}\p{Nd}\s]/u.test(password)) problems.push('a symbol');
  }
  return problems;
}

/** Throws seed 004's 400 "Password too weak", followed by what is missing. */
export function assertPasswordPolicy(p: PasswordPolicy, password: string): void {
  const problems = passwordProblems(p, password);
  if (problems.length) throw invalidRequest(`Password too weak: needs ${problems.join(', ')}`);
}
