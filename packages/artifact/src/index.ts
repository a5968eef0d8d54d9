export { ArtifactError } from './errors.ts';
export { ARTIFACT_FORMAT, DIGEST, MAX_ARTIFACT_BYTES, digestOf, packArtifact, unpackArtifact, type ArtifactContents } from './format.ts';
export { PROVIDED_MODULES, provideModules, type ProvidedModule } from './provided.ts';
export { ENTRY_FILES, findEntry } from './entry.ts';
export { ARTIFACT_ENTRY, buildArtifact, type BuiltArtifact } from './build.ts';
