import { CoapCode } from '../../shared/coap/code.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import type { BlockSize } from '../../shared/coap/block.ts';
import { CoapTransferError } from './errors.ts';
import type { RequestTemplate } from './exchange-store.ts';

export type Exchange = (template: RequestTemplate) => Promise<CoapMessage>;

/**
 * Sends a request body in Block1 blocks (RFC 7959 2.5), one exchange per block, each waiting
 * for 2.31 Continue. The server may ask for smaller blocks two ways: a 2.31 carrying a smaller
 * SZX (continue from the same byte offset at that size, 2.3), or 4.13 with a Block1 naming the
 * size it takes (start over at that size, 2.9.3). Sizes only ever shrink, so this ends.
 */
export async function sendWithBlock1(exchange: Exchange, template: RequestTemplate, initialSize: BlockSize): Promise<CoapMessage> {
  const body = template.payload;
  let size = initialSize;
  let num = 0;
  for (;;) {
    const offset = num * size;
    const end = Math.min(offset + size, body.length);
    const more = end < body.length;
    const response = await exchange({
      code: template.code,
      options: { ...template.options, block1: { num, more, size }, ...(num === 0 && { size1: body.length }) },
      payload: body.subarray(offset, end),
    });
    const asked = response.options.block1;
    if (response.code === CoapCode.REQUEST_ENTITY_TOO_LARGE && asked !== undefined && asked.size < size) {
      size = asked.size;
      num = 0;
      continue;
    }
    if (!more || response.code !== CoapCode.CONTINUE) return response;
    if (asked === undefined || asked.num !== num) {
      throw new CoapTransferError(`2.31 Continue for Block1 #${num} names block ${asked?.num ?? 'none'}`);
    }
    if (asked.size < size) size = asked.size;
    num = end / size;
  }
}
