import type { DropReport } from '@squadron/protocol';
import type { BrokerSession } from './broker-session.ts';
import type { LocalSubscription } from './subscriptions.ts';

/** How often the counts are looked at; a report goes only when they changed. */
const REPORT_EVERY_MS = 1000;

/**
 * Tell the broker what this process's subscriptions dropped themselves (a handler behind, its
 * queue full), so that `squadron status` shows a subscriber that cannot keep up, a client's as an
 * instance's: about once a second while the counts change, and again on each new connection.
 * Returns the function that stops it.
 */
export function reportDrops(session: BrokerSession, subscriptions: () => Iterable<LocalSubscription>): () => void {
  let sentTotal = 0;
  let sentOn = 0;
  const timer = setInterval(() => {
    const report: DropReport = [];
    let total = 0;
    for (const sub of subscriptions()) {
      if (sub.dropped === 0) continue;
      report.push([sub.sid, sub.dropped]);
      total += sub.dropped;
    }
    // Counts only grow: an unchanged total on the same connection is nothing new.
    if (report.length === 0 || (total === sentTotal && session.connects === sentOn)) return;
    if (session.reportDrops(report)) {
      sentTotal = total;
      sentOn = session.connects;
    }
  }, REPORT_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
