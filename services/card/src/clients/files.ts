import { checkFileReference, type FileReference, type OnBehalfOf } from '@holo/shared'

export type { FileReference, OnBehalfOf }


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
