export * from './provisioner.ts';
export { openStorageClient, type StorageClientOptions } from './clients.ts';
