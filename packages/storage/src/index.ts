export * from './provisioner.ts';
