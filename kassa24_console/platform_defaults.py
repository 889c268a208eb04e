"""The platform's words and names, as far as they are known: the report's columns, status
and type words, the Data API's keys and fields (platform.md; partly unconfirmed, so each is
the default of a setting, never a constant in the code)."""

from __future__ import annotations

# Our field → the report's column header (Dashboard CSV export; names unconfirmed).
DEFAULT_REPORT_COLUMNS = {
    "operation_id": "Operation ID",
    "payment_id": "Payment ID",
    "project_id": "Project ID",
    "type": "Operation type",
    "status": "Operation status",
    "method": "Payment method",
    "amount": "Amount",
    "currency": "Currency",
    "customer_id": "Customer ID",
    "created": "Created",
    "completed": "Completed",
}
DEFAULT_REPORT_STATUSES = {
    "Успешно": "success",
    "Успешная": "success",
    "Отклонено": "decline",
    "Отклонена": "decline",
    "Отменено": "cancelled",
    "Отменена": "cancelled",
    "Истекла": "expired",
    "Ошибка": "error",
    "В обработке": "processing",
    "Возврат": "refunded",
}
# The type words of Dashboard exports (Russian and English) and of the Data API → ours.
OPERATION_TYPES = ("sale", "refund", "reversal")
DEFAULT_REPORT_TYPES = {
    "sale": "sale",
    "purchase": "sale",
    "payment": "sale",
    "Продажа": "sale",
    "Покупка": "sale",
    "Оплата": "sale",
    "Платёж": "sale",
    "Платеж": "sale",
    "refund": "refund",
    "partial refund": "refund",
    "Возврат": "refund",
    "Частичный возврат": "refund",
    "reversal": "reversal",
    "reverse": "reversal",
    "cancel": "reversal",
    "cancellation": "reversal",
    "chargeback": "reversal",
    "void": "reversal",
    "Отмена": "reversal",
    "Сторно": "reversal",
    "Реверс": "reversal",
    "Чарджбэк": "reversal",
}
# The Data API request's key names (platform.md §3: partly unconfirmed).
DEFAULT_DATA_API_KEYS = {
    "project_ids": "project_id",
    "interval": "interval",
    "from": "from",
    "to": "to",
    "timezone": "timezone",
    "limit": "limit",
    "offset": "offset",
    "operation_type": "operation_type",
    "fields": "fields",
    "token": "token",
    "items": "operations",
}
# Our field → the Data API item's field.
DEFAULT_DATA_API_FIELDS = {
    "operation_id": "operation_id",
    "payment_id": "payment_id",
    "project_id": "project_id",
    "type": "operation_type",
    "status": "operation_status",
    "method": "payment_method",
    "amount": "amount",
    "currency": "currency",
    "customer_id": "customer_id",
    "created": "created_date",
    "completed": "completed_date",
}
