// Structured logs (pino, JSON lines on stdout). Nothing is logged per packet.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'dysco'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
