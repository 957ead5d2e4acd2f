# A tour of terrane on the embedded local provider: no cloud account needed.
# Everything it creates lives under ./out next to this file.

variable "environment" {
  type        = string
  default     = "dev"
  description = "Name of the environment, used in file names."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging or prod."
  }
}

variable "services" {
  type    = map(number)
  default = { web = 8080, api = 9090 }
}

locals {
  out_dir = "${path.module}/out/${var.environment}"
  labels  = { environment = var.environment, managed_by = "terrane" }
}

resource "random_id" "deployment" {
  byte_length = 4
}

resource "random_password" "db" {
  length  = 20
  special = false
}

# One config file per service, from a for_each map.
resource "local_file" "service" {
  for_each = var.services

  filename             = "${local.out_dir}/${each.key}.json"
  file_permission      = "0644"
  directory_permission = "0755"
  content = jsonencode({
    service    = each.key
    port       = each.value
    deployment = random_id.deployment.hex
    labels     = local.labels
  })
}

# A secret file: its content never appears in plans or logs.
resource "local_sensitive_file" "db_password" {
  filename             = "${local.out_dir}/db-password.txt"
  content              = random_password.db.result
  directory_permission = "0755"
}

module "greeting" {
  source   = "./modules/greeting"
  out_dir  = local.out_dir
  services = keys(var.services)
}

resource "null_resource" "deploy_marker" {
  triggers = {
    files = join(",", [for f in local_file.service : f.id])
  }
  depends_on = [module.greeting]
}

output "service_files" {
  value = { for k, f in local_file.service : k => f.filename }
}

output "deployment_id" {
  value = random_id.deployment.hex
}

output "db_password" {
  value     = random_password.db.result
  sensitive = true
}
