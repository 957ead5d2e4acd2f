variable "out_dir" {
  type = string
}

variable "services" {
  type = list(string)
}

resource "local_file" "readme" {
  filename             = "${var.out_dir}/README.txt"
  content              = templatefile("${path.module}/readme.tftpl", { services = var.services })
  file_permission      = "0644"
  directory_permission = "0755"
}

output "readme_path" {
  value = local_file.readme.filename
}
