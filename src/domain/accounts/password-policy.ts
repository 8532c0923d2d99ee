// Password policy for new passwords (seed 004): 8–128 characters with an upper-case letter, a
// lower-case letter, a digit and a symbol by default; KEYMASTER_PASSWORD_* configure it.
import type { Config } from '../../config.js';
import { appError, passwordProblemText, type PasswordProblem } from '../../errors.js';

export type PasswordPolicy = Config['passwordPolicy'];

export function describePolicy(p: PasswordPolicy): string {
  const classes = p.requireClasses ? ' with an upper-case letter, a lower-case letter, a digit and a symbol' : '';
  return `${p.minLength}-${p.maxLength} characters${classes}`;
}

/** What `password` lacks, empty when it passes. Length counts Unicode code points. */
export function passwordViolations(p: PasswordPolicy, password: string): PasswordProblem[] {
  const length = [...password].length;
  const problems: PasswordProblem[] = [];
  if (length < p.minLength) problems.push({ rule: 'min_length', min: p.minLength });
  if (length > p.maxLength) problems.push({ rule: 'max_length', max: p.maxLength });
  if (p.requireClasses) {
    if (!/\p{Lu}/u.test(password)) problems.push({ rule: 'upper' });
    if (!/\p{Ll}/u.test(password)) problems.push({ rule: 'lower' });
    if (!/\p{Nd}/u.test(password)) problems.push({ rule: 'digit' });
    if (!/[^\p{L}\p{Nd}\s]/u.test(password)) problems.push({ rule: 'symbol' });
  }
  return problems;
}

/** The same, in English ("at least 8 characters"). */
export function passwordProblems(p: PasswordPolicy, password: string): string[] {
  return passwordViolations(p, password).map(passwordProblemText);
}

/** Throws seed 004's 400 "Password too weak", followed by what is missing (reason password_too_weak). */
export function assertPasswordPolicy(p: PasswordPolicy, password: string): void {
  const problems = passwordViolations(p, password);
  if (problems.length) throw appError('password_too_weak', { problems });
}
