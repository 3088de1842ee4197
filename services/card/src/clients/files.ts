import { checkFileReference, type FileReference } from '@holo/shared'

export type { FileReference }

/** On whose behalf a call to another service is made: the caller's token and request id. */
export interface OnBehalfOf { token: string, requestId: string }

/** The file service as the card service needs it: may this caller use this file? */
export interface FileReferences {
  check: (fileId: string, caller: OnBehalfOf) => Promise<FileReference>
}

/** Over HTTP, with the caller's token (see @holo/shared's file-reference.ts). */
export class HttpFileReferences implements FileReferences {
  constructor (private readonly o: { baseUrl: string, timeoutMs: number }) {}

  async check (fileId: string, caller: OnBehalfOf): Promise<FileReference> {
    return await checkFileReference({ ...this.o, fileId, token: caller.token, requestId: caller.requestId })
  }
}
