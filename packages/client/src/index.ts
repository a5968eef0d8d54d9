export { ControlClient, ApiError } from './control-client.ts';
export type { ControlClientOptions } from './control-client.ts';
export { MEMORY_CEILING_MB } from './memory-ceiling.ts';
export type {
  SiteKind, RefusalBody, HealthBody, SiteBody, SitesBody, StatusBody, SiteStatusBody, InstanceBody, SubscriptionBody, SubscriberDropBody, ErrorBody,
  QueueRowBody, QueueLimitBody, QueueQuotasBody, DeadLetterBody, WhoAmIBody, SquadBody, CreatedSquadBody, ServiceInterfaceBody, ServiceBody, ClaimBody, ServiceClaimsBody,
  CreateServiceRequest, ReleaseBody, ArtifactBody, DeployRequest, ScaleRequest, RollbackRequest, InstanceState, InstanceExitBody, InstanceExitReason,
  InstanceObservation, InstanceRecordBody, AuditBody, AgentBody, RegisterAgentRequest, RegisteredAgentBody, AssignmentBody, AssignmentsBody,
  InstanceReportBody, AgentReportRequest, HolderKeyBody, CredentialBody,
  AppBody, CreatedAppBody, CreateAppRequest,
  CreateStorageRequest, StorageKindName, StorageStatus, StorageBody, StorageDetailBody, StorageCredentialsBody,
  AccessRequest, GrantRequest, DenyRequest, ServicePolicyBody, PoliciesBody, Access, GrantRule, DenyRule, RateLimit, PolicySet, ServicePolicy,
} from './api-types.ts';
