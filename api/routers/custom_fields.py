from fastapi import APIRouter

router = APIRouter(tags=["custom_fields"])
