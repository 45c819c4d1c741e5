import { isResponseCode, codeClass } from '../../shared/coap/code.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { concat } from './block1-receiver.ts';
import { CoapTransferError } from './errors.ts';
import type { Exchange } from './block1-sender.ts';
import type { RequestTemplate } from './exchange-store.ts';

/**
 * Completes a response that came with Block2 M=1 (RFC 7959 2.4): asks for the following
 * blocks, at the size the server chose, and returns the last block's message with the whole
 * body. Bounded by `maxBodySize` against a server that never sets M=0.
 */
export async function fetchRemainingBlock2(
  exchange: Exchange,
  template: RequestTemplate,
  first: CoapMessage,
  maxBodySize: number,
): Promise<{ message: CoapMessage; payload: Uint8Array }> {
  let block = first.options.block2;
  if (block === undefined || !block.more) return { message: first, payload: first.payload };
  if (block.num !== 0) throw new CoapTransferError(`first response carries Block2 #${block.num}`);
  const parts = [first.payload];
  let received = first.payload.length;
  let last = first;
  while (block.more) {
    // RFC 7959 2.2: every block but the last is exactly the block size.
    if (last.payload.length !== block.size) throw new CoapTransferError(`Block2 #${block.num} carries ${last.payload.length} bytes, not ${block.size}`);
    const offset = received;
    const size = block.size;
    if (offset % size !== 0) throw new CoapTransferError(`Block2 #${block.num} ends at ${offset}, not on a ${size}-byte boundary`);
    const num = offset / size;
    last = await exchange({ code: template.code, options: { ...template.options, block2: { num, more: false, size } }, payload: new Uint8Array(0) });
    if (!isResponseCode(last.code) || codeClass(last.code) !== 2) {
      throw new CoapTransferError(`Block2 #${num} refused`, last.code);
    }
    const next = last.options.block2;
    if (next === undefined || next.num * next.size !== offset) {
      throw new CoapTransferError(`asked for Block2 at byte ${offset}, got ${next === undefined ? 'no Block2' : `#${next.num} of ${next.size}`}`);
    }
    received += last.payload.length;
    if (received > maxBodySize) throw new CoapTransferError(`Block2 body over ${maxBodySize} bytes`);
    parts.push(last.payload);
    block = next;
  }
  return { message: last, payload: concat(parts, received) };
}
