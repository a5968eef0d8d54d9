export { ControlClient, ApiError } from './control-client.ts';
export type { ControlClientOptions } from './control-client.ts';
export type {
  SiteKind, HealthBody, SiteBody, SitesBody, StatusBody, SiteStatusBody, InstanceBody, SubscriptionBody, ErrorBody,
  QueueRowBody, DeadLetterBody, WhoAmIBody, SquadBody, CreatedSquadBody, ServiceInterfaceBody, ServiceBody,
  CreateServiceRequest, ReleaseBody, DeployRequest, ScaleRequest, RollbackRequest, InstanceState, InstanceExitBody,
  InstanceObservation, InstanceRecordBody, AuditBody, AgentBody, RegisterAgentRequest, RegisteredAgentBody, AssignmentBody, AssignmentsBody,
  InstanceReportBody, AgentReportRequest, HolderKeyBody, CredentialBody,
} from './api-types.ts';
