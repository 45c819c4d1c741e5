import { z } from 'zod';

/** A function's configuration from its environment, checked once, naming what is missing. */
export function readEnvironment<T extends z.ZodRawShape>(shape: T): z.infer<z.ZodObject<T>> {
  const parsed = z.object(shape).safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`function misconfigured: ${problems}`);
  }
  return parsed.data;
}
